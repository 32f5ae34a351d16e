"""Printer secrets (OctoPrint API keys) encrypted at rest, and shown only masked.

The keys are the FARM_ENCRYPTION_KEY setting (a list, for rotation: the first encrypts, all
decrypt); without one, the key is derived from SECRET_KEY. The SECRET_KEY-derived key always
stays a decryption fallback, so moving to a dedicated key loses no stored secret.
Plain secrets never go to logs, events, pages or exception messages from this module.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from printers.drivers.base import PermanentDriverError


class SecretError(PermanentDriverError):
    """A stored secret cannot be decrypted: the encryption key changed, or the value is bad."""


def _derive(material: str) -> Fernet:
    raw = material.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return Fernet(raw)  # already a Fernet key (Fernet.generate_key())
    except ValueError:
        pass
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"farm printer secrets")
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(raw)))


def _fernet() -> MultiFernet:
    keys = [_derive(k) for k in settings.FARM_ENCRYPTION_KEY]
    keys.append(_derive(settings.SECRET_KEY))
    return MultiFernet(keys)


def encrypt(secret: str) -> str:
    """The secret encrypted for Printer.secret_encrypted ("" stays "": no secret)."""
    if not secret:
        return ""
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise SecretError(
            "the printer's stored API key cannot be decrypted (was FARM_ENCRYPTION_KEY or "
            "SECRET_KEY changed?); enter the key again"
        ) from None


def mask(secret: str) -> str:
    """What people may see of a secret: its last four characters at most, never its length."""
    if not secret:
        return ""
    tail = secret[-4:] if len(secret) >= 12 else ""
    return f"••••••••{tail}"


def masked(token: str) -> str:
    """The masked form of a stored (encrypted) secret, for admin pages and command output."""
    if not token:
        return "(none)"
    try:
        return mask(decrypt(token))
    except SecretError:
        return "(stored, cannot be decrypted)"
