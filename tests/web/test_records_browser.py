"""The records pages in a real headless Chromium, under the farm's content security policy:
the statistics page draws its uPlot charts from the vendored file with nothing refused, no
script error and nothing fetched from another host; each records page fits a 390 px screen."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from farm.models import MaintenanceSchedule, Spool, StockThreshold
from tests.api.test_docs_browser import CHROMIUM, Browser

# The API docs test's Chromium, as a fixture under the name it is imported as here.
from tests.api.test_docs_browser import browser as docs_browser  # noqa: F401
from tests.farm.records_helpers import ended_run, queued_job

# integration: CI installs chromium (.ci/apt-packages), so there it must run, not skip
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def chromium(request: pytest.FixtureRequest) -> Browser:
    browser: Browser = request.getfixturevalue("docs_browser")
    return browser


def sign_in(browser: Browser, live_server: Any, user: User) -> None:
    client = Client()
    client.force_login(user)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    browser.call(
        "Network.setCookie",
        name="sessionid",
        value=client.cookies["sessionid"].value,
        domain=host,
        path="/",
    )


def open_page(browser: Browser, url: str, tmp_path: Path, shot: str) -> None:
    browser.events.clear()
    browser.call("Page.navigate", url=url)
    browser.settle(2.5)
    png = browser.call("Page.captureScreenshot", format="png")["data"]
    (tmp_path / f"{shot}.png").write_bytes(base64.b64decode(png))


def problems(browser: Browser, base: str) -> list[str]:
    found = [
        e["params"]["entry"]["text"]
        for e in browser.events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("source") == "security"
    ]
    found += [
        str(e["params"]["exceptionDetails"].get("exception", {}).get("description"))
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
    ]
    found += [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
        and not e["params"]["request"]["url"].startswith((base, "data:"))
    ]
    return found


@pytest.fixture
def farm(alice: User, pla: Any, make_printer: Any) -> None:
    job = queued_job(alice, pla)
    p1, p2 = make_printer("p1"), make_printer("p2")
    ended_run(job, p1)
    ended_run(job, p2, fail="layer shift")
    MaintenanceSchedule.objects.create(task="Belts", printer_model="Prusa MK4", every_runs=1)
    Spool.objects.create(material=pla, colour="black", vendor="Prusament", location="B-3")
    StockThreshold.objects.create(material=pla, colour="black", min_g=5000)


def test_the_stats_page_draws_its_charts_under_the_csp(
    live_server: Any, chromium: Browser, operator: User, farm: None, tmp_path: Path
) -> None:
    browser = chromium
    sign_in(browser, live_server, operator)
    open_page(browser, f"{live_server.url}/operator/stats/", tmp_path, "stats")
    charts = browser.evaluate("document.querySelectorAll('[data-chart] canvas').length")
    empty = browser.evaluate(
        "[...document.querySelectorAll('[data-chart]')]"
        ".filter(b => b.textContent.startsWith('Nothing to draw')).length"
    )
    assert problems(browser, live_server.url) == []
    # No job has finished yet, so the completion-time histogram says it has nothing to draw.
    assert (charts, empty) == (6, 1), f"{charts} charts drawn (screenshot in {tmp_path})"


def test_each_records_page_fits_a_phone(
    live_server: Any, chromium: Browser, operator: User, farm: None, tmp_path: Path
) -> None:
    # One browser for the four pages: each Chromium start costs seconds on a loaded machine.
    browser = chromium
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=390,
        height=844,
        deviceScaleFactor=1,
        mobile=True,
    )
    sign_in(browser, live_server, operator)
    for path in (
        "/operator/stats/",
        "/operator/maintenance/",
        "/operator/spools/",
        "/notifications/",
    ):
        open_page(browser, f"{live_server.url}{path}", tmp_path, path.strip("/").replace("/", "-"))
        wide = browser.evaluate("document.documentElement.scrollWidth")
        assert problems(browser, live_server.url) == [], path
        assert wide <= 390, f"{path} is {wide} px wide at 390 (screenshot in {tmp_path})"
