from __future__ import annotations

import pytest
from pytest_django import Settings

from printers.secrets import SecretError, decrypt, encrypt, mask, masked

KEY = "0123456789ABCDEF0123456789ABCDEF"


def test_it_round_trips_and_never_stores_the_plain_key() -> None:
    token = encrypt(KEY)
    assert KEY not in token
    assert decrypt(token) == KEY


def test_two_encryptions_differ() -> None:
    assert encrypt(KEY) != encrypt(KEY)  # Fernet adds a random IV and a timestamp


def test_an_empty_secret_stays_empty() -> None:
    assert encrypt("") == "" and decrypt("") == ""


def test_a_dedicated_key_encrypts_and_the_secret_key_still_decrypts_old_values(
    settings: Settings,
) -> None:
    old = encrypt(KEY)
    settings.FARM_ENCRYPTION_KEY = ["a dedicated key"]
    new = encrypt(KEY)
    assert decrypt(new) == KEY and decrypt(old) == KEY
    settings.FARM_ENCRYPTION_KEY = []
    with pytest.raises(SecretError, match="cannot be decrypted"):
        decrypt(new)


def test_a_rotated_out_key_still_decrypts_while_it_is_listed(settings: Settings) -> None:
    settings.FARM_ENCRYPTION_KEY = ["the old key"]
    old = encrypt(KEY)
    settings.FARM_ENCRYPTION_KEY = ["the new key", "the old key"]
    assert decrypt(old) == KEY
    settings.FARM_ENCRYPTION_KEY = ["the new key"]
    with pytest.raises(SecretError):
        decrypt(old)


def test_a_changed_key_fails_clearly_without_showing_the_value(settings: Settings) -> None:
    token = encrypt(KEY)
    settings.SECRET_KEY = "another secret key entirely"
    with pytest.raises(SecretError) as caught:
        decrypt(token)
    assert KEY not in str(caught.value) and token not in str(caught.value)
    assert masked(token) == "(stored, cannot be decrypted)"


@pytest.mark.parametrize(
    ("secret", "shown"),
    [(KEY, "••••••••CDEF"), ("short-key", "••••••••"), ("", "")],
)
def test_it_masks_secrets(secret: str, shown: str) -> None:
    assert mask(secret) == shown


def test_it_shows_a_stored_secret_masked() -> None:
    assert masked(encrypt(KEY)) == "••••••••CDEF"
    assert masked("") == "(none)"
