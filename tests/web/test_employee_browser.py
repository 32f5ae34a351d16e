"""An employee's submissions in a real headless Chromium (tests/browser.py): a part drawn in
metres is quoted with its cost and completion date, the scale question is answered, the job
confirmed and, once the farm has printed it, shown done; an over-quota submission is refused
on the form with what is left; a job over its site's approval rule waits, and shows the
operator's note once approved or refused. The slicing worker's and printers' parts are played
by the farm's own services in the test (job_prepare, schedule_pass, the run services).
Screenshots go to FARM_VAR_DIR/test-artifacts/screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trimesh
from django.contrib.auth.models import User
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from farm.models import Job, Material, Printer, Quota, Site
from farm.services.preparation import job_prepare
from farm.services.runs import bed_clear, run_finish, run_start
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401
from tests.farm.helpers import claim
from tests.meshes import shared_meshes

# integration: CI installs chromium and chromium-driver, so there these must run, not skip
pytestmark = pytest.mark.integration


def submit_through_the_form(browser: Browser, path: Path) -> Job | None:
    """Upload `path` on the submission form as a person would; the job it made, if any."""
    before = set(Job.objects.values_list("pk", flat=True))
    browser.open("/jobs/new/")
    browser.driver.find_element(By.ID, "id_file").send_keys(str(path))
    click(browser, "#job-form button[type=submit]")
    made = set(Job.objects.values_list("pk", flat=True)) - before
    return Job.objects.get(pk=made.pop()) if made else None


def prepared_and_planned(job: Job | None) -> Job:
    """What the slicing worker and the next scheduling pass do."""
    assert job is not None, "the form made no job"
    job_prepare(job_id=job.pk)
    schedule_pass()
    return Job.objects.get(pk=job.pk)


def click(browser: Browser, selector: str) -> None:
    """Click what submits a form, and wait for the page it leads to (not the one left)."""
    leaving = browser.driver.find_element(By.TAG_NAME, "html")
    browser.driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(browser.driver, 60).until(gone(leaving))
    browser.wait_for("document.readyState === 'complete'")


def gone(element: WebElement) -> Callable[[Any], bool]:
    """Whether `element` has left the page. Mid-navigation ChromeDriver may say so with "Node
    with given id does not belong to the document" rather than the stale-element error that
    selenium's `staleness_of` waits for (a CI run failed on it)."""

    def left(_: Any) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return left


def text(browser: Browser) -> str:
    return str(browser.js("document.body.innerText"))


@pytest.fixture
def cube_in_metres(tmp_path: Path) -> Path:
    """The shared 20 mm calibration cube, drawn in metres (0.02 across)."""
    mesh = trimesh.load(shared_meshes() / "XYZ-Cube.stl", force="mesh")
    mesh.apply_scale(0.001)
    path = tmp_path / "xyz-cube-in-metres.stl"
    mesh.export(path)
    return path


def test_an_employee_answers_the_scale_question_confirms_and_sees_it_done(
    browser: Browser, alice: User, make_printer: Any, cube_in_metres: Path
) -> None:
    printer = make_printer("berlin-01")
    browser.log_in(alice)
    submitted = submit_through_the_form(browser, cube_in_metres)
    assert submitted is not None, text(browser)
    assert browser.driver.current_url.endswith(f"/jobs/{submitted.pk}/")
    assert "the file is being checked" in text(browser)

    job = prepared_and_planned(submitted)
    assert job.status == JobStatus.QUOTED and job.planned_end is not None
    browser.open(f"/jobs/{job.pk}/")
    page = text(browser)
    assert "This part is 0.02 mm across: it looks like metres. Scale ×1000?" in page
    assert "It will cost" in page
    assert "If you confirm now, this job will be done by" in page
    browser.wait_for("document.getElementById('turntable-img').naturalWidth > 0")
    browser.save_screenshot("employee-quote-with-the-scale-question")
    assert browser.axe() == []

    click(browser, ".question button[value=scale]")
    assert f"Job #{job.pk} answered." in text(browser)
    assert not browser.driver.find_elements(By.CSS_SELECTOR, ".question")
    click(browser, "form[action$='/confirm/'] button")
    assert "confirmed: it is in the queue" in text(browser)
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED

    # the farm prints it: a run on the printer, finished, the bed cleared
    run = claim(Job.objects.get(pk=job.pk), printer)
    run_start(run_id=run.pk)
    run_finish(run_id=run.pk)
    bed_clear(printer=Printer.objects.get(pk=printer.pk), actor=None)
    assert Job.objects.get(pk=job.pk).status == JobStatus.DONE
    browser.open(f"/jobs/{job.pk}/")
    assert browser.driver.find_element(By.CSS_SELECTOR, ".state-done").text == "Done"
    assert "1 done, 1 printed" in text(browser)
    browser.save_screenshot("employee-job-done")
    assert browser.console_errors() == []


def test_an_over_quota_submission_says_so_and_what_is_left_on_the_form(
    browser: Browser, alice: User, pla: Material, make_printer: Any, cube_upload: Any
) -> None:
    make_printer("berlin-01")
    job_prepare(job_id=job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1).pk)
    Quota.objects.create(user=alice, grams_per_month=1, hours_per_month=50)
    browser.log_in(alice)
    assert submit_through_the_form(browser, shared_meshes() / "XYZ-Cube.stl") is None
    assert browser.driver.current_url.endswith("/jobs/new/")
    page = text(browser)
    assert "You have used all of your 1 g for this month" in page
    left = browser.driver.find_element(By.ID, "quota-left").text
    assert left.startswith("Left this month: 0 g of your 1 g; ")
    assert "printer hours of your 50.0 printer hours." in left
    browser.save_screenshot("employee-over-quota")
    assert browser.axe() == []


@pytest.mark.parametrize(("decision", "shown"), [("approve", "Approved"), ("refuse", "Refused")])
def test_an_approval_needed_submission_waits_and_shows_the_operators_note(
    browser: Browser,
    alice: User,
    operator: User,
    site: Site,
    make_printer: Any,
    decision: str,
    shown: str,
) -> None:
    make_printer("berlin-01")
    site.approve_above_grams = 1
    site.save()
    browser.log_in(alice)
    job = prepared_and_planned(submit_through_the_form(browser, shared_meshes() / "XYZ-Cube.stl"))
    browser.open(f"/jobs/{job.pk}/")
    assert "Waits for an operator's approval: it uses " in text(browser)
    assert browser.driver.find_element(
        By.CSS_SELECTOR, "form[action$='/confirm/'] button"
    ).get_attribute("disabled")
    browser.save_screenshot(f"employee-waits-for-approval-{decision}")

    browser.driver.delete_all_cookies()
    browser.log_in(operator)
    browser.open(f"/jobs/{job.pk}/")
    note = "Fine: print it on the big one" if decision == "approve" else "Too heavy: split it"
    browser.driver.find_element(By.ID, "approval-note").send_keys(note)
    button = "button.primary" if decision == "approve" else "button[formaction$='/refuse/']"
    click(browser, f"#approval {button}")

    browser.driver.delete_all_cookies()
    browser.log_in(alice)
    browser.open(f"/jobs/{job.pk}/")
    said = browser.driver.find_element(By.ID, "approval").text
    assert said.startswith(f"{shown} by {operator.username} on ")
    assert f"“{note}”" in said
    expected = JobStatus.QUOTED if decision == "approve" else JobStatus.CANCELLED
    assert Job.objects.get(pk=job.pk).status == expected
    browser.save_screenshot(f"employee-approval-{decision}d")
    assert browser.console_errors() == []
