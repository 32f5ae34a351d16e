"""Helpers for the slicing tests."""

from __future__ import annotations

import os

import pytest


def require_engine(why_not: str | None) -> None:
    """Skip a test of an external engine that cannot run here (`why_not`: the reason, None
    when it can); in CI (CI=true) fail instead: .ci/run installs every engine."""
    if why_not is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why_not)
    pytest.skip(why_not)
