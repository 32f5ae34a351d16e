"""A promise that moves after a printer fails, as its owner sees it in headless Chromium
(tests/browser.py): the job page shows the promise with its confidence, then the new one
with the reason, every change in the site's time zone."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from farm.models import Job, Printer, PrintRun, Site
from farm.services.runs import run_fail
from farm.services.scheduling import schedule_pass
from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401
from tests.farm.promise_helpers import later, printing

# integration: CI installs chromium and chromium-driver, so there it must run, not skip
pytestmark = pytest.mark.integration


def promise_text(browser: Browser) -> str:
    browser.wait_for("document.getElementById('promise') !== null")
    return str(browser.js("document.getElementById('promise').innerText"))


def test_a_promise_moves_after_a_printer_fails(
    browser: Browser, alice: User, pla: Any, cube_upload: Any, make_printer: Any, site: Site
) -> None:
    Site.objects.filter(pk=site.pk).update(timezone="Europe/Paris")
    job = printing(alice, pla, cube_upload(), make_printer)
    browser.log_in(alice)
    browser.open(f"/jobs/{job.pk}/")
    before = promise_text(browser)
    assert "Europe/Paris" in before and "in 10 jobs like this finish earlier" in before
    assert "confirmed as quoted" in before and "run failed" not in before

    later(job, 3600)  # an hour has passed: the reprint now ends after the promise
    run = PrintRun.objects.get(job=job)
    run_fail(run_id=run.pk, reason="spaghetti")
    Printer.objects.filter(pk=run.printer_id).update(bed_clear=True, current_run=None)
    schedule_pass()
    browser.open(f"/jobs/{job.pk}/")
    after = promise_text(browser)
    assert "run failed on p1" in after
    moved = Job.objects.get(pk=job.pk).promise_changes.last()
    assert moved is not None and moved.reason == "run failed on p1"
    browser.save_screenshot("job-promise-moved")
    assert browser.axe() == [] and browser.console_errors() == []
