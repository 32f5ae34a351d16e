"""The API's docs page in a real headless Chromium (tests/browser.py), under the farm's
content security policy: Swagger UI draws every operation, and the browser reports no refused
script, style, image or font and nothing fetched from another host (drf-spectacular-sidecar
serves the files)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401

# integration: CI installs chromium and chromium-driver, so there it must run, not skip
pytestmark = pytest.mark.integration

OPERATIONS = "document.querySelectorAll('.opblock').length"


def test_swagger_ui_draws_every_operation_under_the_csp(browser: Browser, alice: User) -> None:
    browser.log_in(alice)
    browser.open("/api/v1/docs/")
    drawn = browser.wait_for(f"{OPERATIONS} >= 14 && {OPERATIONS}", 30)
    browser.save_screenshot("api-docs")
    elsewhere = browser.js(
        "performance.getEntriesByType('resource').map(r => r.name)"
        ".filter(u => !u.startsWith(arguments[0]) && !u.startsWith('data:'))",
        browser.base_url,
    )
    # A refusal by the CSP is logged as an error (tests/browser.py: console_errors).
    assert browser.console_errors() == []
    assert elsewhere == []
    assert drawn >= 14
