"""Real browser tests: headless Chromium driven by Selenium through Debian's chromedriver.

Use it from a test module::

    from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401

    pytestmark = pytest.mark.integration  # CI installs chromium: there it must not skip

    def test_it_shows_the_fleet(browser: Browser, operator: User) -> None:
        browser.log_in(operator)
        browser.open("/operator/fleet/")
        browser.wait_for("document.querySelectorAll('[data-printer-id]').length > 0")
        browser.save_screenshot("fleet")
        assert browser.axe() == []

The API, kept small. Two fixtures, imported into the test module as above (their names are
`browser` and `chromium`, so the import does not shadow the test's argument):

- `chromium` (module fixture): one headless Chromium per test module (a start costs seconds
  on a loaded machine); skips with the reason when chromium or chromedriver is missing (mark the tests `integration`: with CI=true a skip fails).
- `browser` (function fixture): a `Browser` on pytest-django's `live_server` (so the test runs
  on a transactional database: the server thread must see the test's rows), its cookies
  cleared and its window 1280x900.
- `Browser.log_in(user)`: signs in with a session made by Django's test client (its cookie).
- `Browser.log_in_with_form(username, password)`: signs in through the real login page.
- `Browser.open(path)`, `.driver` (the Selenium WebDriver), `.js(expression)`,
  `.wait_for(expression, timeout)`, `.resize(width, height)`, `.scroll_width()`,
  `.console_errors()` (what the page logged as SEVERE: script errors, refused by the CSP).
- `Browser.save_screenshot(name)` / `save_screenshot(driver, name)`: a PNG under
  `<FARM_VAR_DIR>/test-artifacts/screenshots/` (var/ is not in git), its path returned.
- `Browser.axe(impacts)`: axe-core's violations of those impacts (critical and serious by
  default) on the page as shown, each as "rule-id: help (n nodes: selector, ...)". axe-core
  comes from npm into the checkout's var/node (`make axe`, or this module on first use).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
AXE_VERSION = "4.14.1"  # pinned as requirements.txt pins Python packages (Makefile: axe)
AXE_DIR = Path(settings.BASE_DIR) / "var" / "node"
AXE_FILE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(settings.VAR_DIR) / "test-artifacts" / "screenshots"
WIDTH, HEIGHT = 1280, 900


def missing() -> str:
    """Why no browser test can run here, or "" when they can."""
    if CHROMIUM is None:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    if CHROMEDRIVER is None:
        return "chromedriver is not installed (Debian: apt-get install chromium-driver)"
    return ""


@pytest.fixture(scope="module", name="chromium")
def chromium_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",  # a container's /dev/shm is small
        f"--window-size={WIDTH},{HEIGHT}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The system's chromedriver, named: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class Browser:
    """One Chromium tab on the live server (see the module's docstring)."""

    def __init__(self, driver: WebDriver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def log_in(self, user: User) -> None:
        client = Client()
        client.force_login(user)
        # A cookie can only be set for the page's own host: be on the server first.
        if not self.driver.current_url.startswith(self.base_url):
            self.open("/accounts/login/")
        self.driver.add_cookie(
            {"name": "sessionid", "value": client.cookies["sessionid"].value, "path": "/"}
        )

    def log_in_with_form(self, username: str, password: str) -> None:
        """Through the log-in page: the one shown now (and its ?next=), else a fresh one."""
        if not self.driver.current_url.startswith(self.base_url + "/accounts/login/"):
            self.open("/accounts/login/")
        self.driver.find_element("name", "username").send_keys(username)
        self.driver.find_element("name", "password").send_keys(password)
        self.driver.find_element("css selector", "main form [type=submit]").click()
        self.wait_for("!location.pathname.startsWith('/accounts/login/')")

    def js(self, expression: str, *args: Any) -> Any:
        """The value of a JavaScript expression in the page (`arguments[i]` are the args)."""
        return self.driver.execute_script(f"return ({expression});", *args)

    def wait_for(self, expression: str, timeout: float = 10.0, *args: Any) -> Any:
        """Polls the expression until it is truthy; fails the test with it after `timeout`."""
        end = time.monotonic() + timeout
        while True:
            value = self.js(expression, *args)
            if value:
                return value
            if time.monotonic() > end:
                pytest.fail(f"not true after {timeout} s: {expression}")
            time.sleep(0.05)

    def resize(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        """The viewport (not the window) to this size: a phone is resize(390, 844)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def scroll_width(self) -> tuple[int, int]:
        """(the page's scroll width, the viewport's width): wider means a horizontal scroll."""
        found = self.js(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        return int(found[0]), int(found[1])

    def console_errors(self) -> list[str]:
        """What the page logged as SEVERE since the last call (script errors, CSP refusals)."""
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            # The farm has no icon; Chromium asks for one anyway.
            if e["level"] == "SEVERE" and "/favicon.ico" not in e["message"]
        ]

    def save_screenshot(self, name: str) -> Path:
        return save_screenshot(self.driver, name)

    def axe(self, impacts: tuple[str, ...] = ("critical", "serious")) -> list[str]:
        """axe-core's violations of these impacts on the page as it is now."""
        source = axe_source()
        if not self.js("typeof window.axe !== 'undefined'"):
            # Run as the driver's script, which the page's content security policy does
            # not govern (the farm allows no inline script).
            self.driver.execute_script(source)
        result = self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(function (r) { done(JSON.stringify(r.violations)); },"
            " function (e) { done(JSON.stringify({error: String(e)})); });"
        )
        violations = json.loads(result)
        if isinstance(violations, dict):
            pytest.fail(f"axe-core failed: {violations['error']}")
        return [
            f"{v['id']} ({v['impact']}): {v['help']} ({len(v['nodes'])} nodes: "
            + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            + ")"
            for v in violations
            if v["impact"] in impacts
        ]


@pytest.fixture(name="browser")
def browser_fixture(chromium: WebDriver, live_server: Any) -> Browser:
    chromium.delete_all_cookies()
    chromium.set_script_timeout(30)
    page = Browser(chromium, live_server.url)
    page.resize()
    chromium.get_log("browser")  # what the module's last test left
    return page


def save_screenshot(driver: WebDriver, name: str) -> Path:
    """The page as shown, as a PNG artefact; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "-", name).strip("-") + ".png")
    # The whole page, not the window: CDP's capture beyond the viewport.
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], 8000),  # a 10,000-printer page is 150,000 px
                "scale": 1,
            },
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def axe_source() -> str:
    """axe-core's script, installed from npm into var/node on first use."""
    if not AXE_FILE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core is not in var/node and npm is not installed (`make axe`)")
        done = subprocess.run(
            [npm, "install", "--no-save", "--prefix", str(AXE_DIR), f"axe-core@{AXE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not AXE_FILE.exists():
            pytest.skip(f"could not install axe-core from npm: {done.stderr[-1000:]}")
    return AXE_FILE.read_text()


__all__ = ["Browser", "browser_fixture", "chromium_fixture", "missing", "save_screenshot"]
