"""The API's tests: users named for their role, each with an API token, and a small farm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.meshes import shared_meshes


@pytest.fixture(autouse=True)
def _fast_hashes(settings: Any) -> None:
    # Many log-ins per test module: the real hasher's cost is for attackers, not for tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def token_client(user: User | None) -> APIClient:
    """A client that sends `user`'s own API token, as an integration would (None: anonymous)."""
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def api_for() -> Any:
    return token_client


@pytest.fixture
def meshes_dir() -> Path:
    return shared_meshes()
