"""A printer's connection settings as its driver needs them, secrets included.

Secrets live encrypted in Printer.secret_encrypted and are decrypted only here, on the way to
the driver; they never go to a page, an event or a log.
"""

from __future__ import annotations

from typing import Any

from farm.models import Printer


def connection_settings(printer: Printer) -> dict[str, Any]:
    return settings_with_secret(printer.connection_settings, printer.secret_encrypted)


def settings_with_secret(stored: dict[str, Any] | None, secret_encrypted: str) -> dict[str, Any]:
    """The settings a driver needs from a printer row's two columns (the fleet link reads
    the columns alone, for thousands of printers at once)."""
    values = dict(stored or {})
    if secret_encrypted:
        from printers.secrets import decrypt

        values["api_key"] = decrypt(secret_encrypted)
    return values
