"""The main pages of the floor and of the employees in a real headless Chromium
(tests/browser.py), on a farm with work in every state: axe-core finds nothing critical or
serious on any of them, nor a script error or a refusal by the content security policy; at
390 px (a phone) none scrolls sideways; the statistics and printer pages draw their uPlot
charts (vendored). Screenshots of each page at both widths go to
FARM_VAR_DIR/test-artifacts/screenshots."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from farm.models import Job, Material, Printer
from farm.services.observation import printers_live_record
from farm.services.preparation import job_prepare
from farm.services.runs import run_start
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from printers.drivers.base import DeviceStatus
from printers.states import DeviceState
from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401
from tests.farm.helpers import claim
from tests.farm.records_helpers import ended_run

# integration: CI installs chromium and chromium-driver, so there these must run, not skip
pytestmark = pytest.mark.integration

OPERATOR_PAGES = (
    "/operator/",
    "/operator/fleet/",
    "/operator/work/",
    "printer",
    "/operator/queue/",
    "/operator/stats/",
    "/operator/maintenance/",
    "/operator/spools/",
    "/operator/audit/",
    "/notifications/",
)
EMPLOYEE_PAGES = ("/jobs/new/", "/jobs/", "job")


@pytest.fixture
def busy_floor(alice: User, pla: Material, cube_upload: Any, make_printer: Any) -> dict[str, Any]:
    """Beds to clear, a filament change, a print under way with temperatures, runs that
    ended (for the charts), a queue."""
    petg = Material.objects.create(name="PETG")
    printers = [make_printer(f"berlin-row-A-printer-{i}", row="A", position=i) for i in range(5)]
    make_printer("a-printer-with-a-rather-long-name", material=petg, colour="black")
    upload = cube_upload("a-part-whose-file-name-goes-on-and-on-for-ever.stl")
    job = job_submit(owner=alice, upload=upload, material=pla, quantity=8, colour="black")
    job_prepare(job_id=job.pk)
    ended_run(job, printers[0])
    ended_run(job, printers[1], fail="layer shift", clear=False)
    ended_run(job, printers[2], clear=False)
    other = job_submit(owner=alice, upload=cube_upload(), material=petg, quantity=2, colour="red")
    job_prepare(job_id=other.pk)
    run = claim(Job.objects.get(pk=job.pk), printers[3])
    run_start(run_id=run.pk)
    schedule_pass()
    status = DeviceStatus(
        DeviceState.PRINTING, progress=0.4, temperatures={"tool0": 215.0, "bed": 60.0}
    )
    printers_live_record([(printers[3].pk, status, timezone.now())])
    Printer.objects.filter(pk=printers[4].pk).update(
        requested_material=petg, requested_colour="red"
    )
    return {"printer": printers[3], "job": job}


def paths(pages: tuple[str, ...], floor: dict[str, Any]) -> list[str]:
    named = {
        "printer": f"/operator/printers/{floor['printer'].pk}/",
        "job": f"/jobs/{floor['job'].pk}/",
    }
    return [named.get(page, page) for page in pages]


def look_at(browser: Browser, user: User, pages: list[str]) -> dict[str, dict[str, Any]]:
    """Opens each page as the user: what axe-core, the console and the width check found,
    and the page's chart boxes (drawn, or saying they have nothing to draw)."""
    browser.driver.delete_all_cookies()
    browser.log_in(user)
    found: dict[str, dict[str, Any]] = {}
    for path in pages:
        browser.resize()
        browser.open(path)
        browser.wait_for("document.readyState === 'complete'")
        # Named without the rows' ids, so each run's screenshots replace the last ones.
        shot = re.sub(r"\d+", "n", path.strip("/").replace("/", "-")) or "home"
        browser.save_screenshot(shot)
        seen: dict[str, Any] = {
            "axe": browser.axe(),
            "errors": browser.console_errors(),
            # Parts that change under the reader's eyes must say so to a screen reader.
            "live_without_aria_live": browser.js(
                "document.querySelectorAll('[data-live]:not([aria-live]),"
                " [data-printer-live]:not([aria-live]), [data-work-status]:not([aria-live])')"
                ".length"
            ),
            # The farm may be offline: everything comes from the farm itself.
            "fetched_elsewhere": browser.js(
                "performance.getEntriesByType('resource').map(r => r.name)"
                ".filter(u => !u.startsWith(arguments[0]) && !u.startsWith('data:'))",
                browser.base_url,
            ),
            "charts": browser.js(
                "[...document.querySelectorAll('[data-chart], [data-temperature-chart]')]"
                ".map(b => b.querySelector('canvas') ? 'drawn'"
                " : b.textContent.startsWith('Nothing to draw') ? 'nothing to draw' : 'blank')"
            ),
        }
        browser.resize(390, 844)  # a phone: the page reflows, no reload needed
        browser.wait_for("document.documentElement.clientWidth === 390")
        browser.save_screenshot("390-" + shot)
        scroll, visible = browser.scroll_width()
        seen["wider_than_a_phone"] = scroll > visible and f"{scroll} px in {visible}"
        found[path] = seen
    return found


def test_the_main_pages_are_accessible_fit_a_phone_and_draw_their_charts(
    browser: Browser, operator: User, alice: User, busy_floor: dict[str, Any]
) -> None:
    # One farm and one visit per page for all three checks: the farm takes seconds to build.
    found = look_at(browser, operator, paths(OPERATOR_PAGES, busy_floor))
    found |= look_at(browser, alice, paths(EMPLOYEE_PAGES, busy_floor))
    clean = {
        "axe": [],
        "errors": [],
        "fetched_elsewhere": [],
        "live_without_aria_live": 0,
        "wider_than_a_phone": False,
    }
    problems = {
        path: {key: value for key, value in seen.items() if key in clean and value != clean[key]}
        for path, seen in found.items()
    }
    assert {path: p for path, p in problems.items() if p} == {}
    stats = found["/operator/stats/"]["charts"]
    # No job has finished yet, so the completion-time histogram has nothing to draw.
    assert stats.count("drawn") >= 5 and "blank" not in stats, stats
    printer_page = found[paths(("printer",), busy_floor)[0]]["charts"]
    assert printer_page == ["drawn"]  # the temperatures of the last hour


def test_an_employee_on_an_operator_page_gets_the_farms_own_403_page(
    browser: Browser, alice: User
) -> None:
    browser.log_in(alice)
    browser.open("/operator/fleet/")
    assert browser.js("document.querySelector('h1').textContent") == "Not allowed"
    # Styled as the farm's pages are (its stylesheet applied), not a bare browser default.
    assert browser.js("getComputedStyle(document.querySelector('header')).backgroundColor") == (
        "rgb(31, 45, 61)"
    )
    browser.save_screenshot("403-employee-on-fleet")
    assert browser.axe() == []


def test_an_operator_logs_in_through_the_form_and_lands_where_they_were_going(
    browser: Browser, operator: User
) -> None:
    browser.open("/operator/work/")
    assert browser.js("location.pathname") == "/accounts/login/"
    assert browser.axe() == []
    browser.save_screenshot("login")
    browser.log_in_with_form("olga", "pw-olga")
    assert browser.js("location.pathname") == "/operator/work/"
    assert browser.js("document.querySelector('h1').textContent") == "Work lists"
