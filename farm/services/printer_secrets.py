"""A printer's connection settings as its driver needs them, secrets included.

Secrets live encrypted in Printer.secret_encrypted and are decrypted only here, on the way to
the driver; they never go to a page, an event or a log.
"""

from __future__ import annotations

from typing import Any

from farm.models import Printer


def connection_settings(printer: Printer) -> dict[str, Any]:
    values = dict(printer.connection_settings or {})
    if printer.secret_encrypted:
        from printers.secrets import decrypt

        values["api_key"] = decrypt(printer.secret_encrypted)
    return values
