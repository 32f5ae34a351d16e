"""The integration pages in a real headless Chromium (tests/browser.py), used as people use
them: a token made on /me/tokens/, an endpoint added on /manage/webhooks/, a done job printed
again from its page. Each page at 390 px (a phone) does not scroll sideways, and axe-core
finds nothing critical or serious. Screenshots go to FARM_VAR_DIR/test-artifacts/screenshots."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from selenium.webdriver.common.by import By

from farm.models import Job, Site, WebhookEndpoint
from farm.roles import MANAGER
from farm.statuses import JobStatus
from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401
from tests.farm.records_helpers import ended_run, queued_job

# integration: CI installs chromium and chromium-driver, so there these must run, not skip
pytestmark = pytest.mark.integration


def fits_a_phone(browser: Browser, shot: str) -> list[str]:
    """What is wrong with the page as shown at 390 px: sideways scrolling, axe's findings."""
    browser.resize(390, 844)
    browser.wait_for("document.documentElement.clientWidth === 390")
    browser.save_screenshot("390-" + shot)
    scroll, visible = browser.scroll_width()
    problems = [f"{scroll} px in {visible}"] if scroll > visible else []
    return problems + browser.axe() + browser.console_errors()


def test_a_token_is_made_and_shown_once_on_a_phone(browser: Browser, alice: User) -> None:
    browser.log_in(alice)
    browser.resize(390, 844)
    browser.open("/jobs/")
    browser.driver.find_element(By.LINK_TEXT, "API tokens").click()
    browser.wait_for("document.querySelector('#id_name') !== null")
    browser.driver.find_element(By.ID, "id_name").send_keys("PrusaSlicer on my laptop")
    browser.driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    browser.wait_for("document.querySelector('#token-key') !== null")
    key = browser.js("document.querySelector('#token-key').value")
    assert len(key) > 20
    assert fits_a_phone(browser, "me-tokens-made") == []
    browser.open("/me/tokens/")
    assert key not in browser.driver.page_source
    assert "PrusaSlicer on my laptop" in browser.driver.page_source


def test_a_manager_adds_a_webhook_endpoint_on_a_phone(browser: Browser, alice: User) -> None:
    alice.groups.add(Group.objects.get_or_create(name=MANAGER)[0])
    browser.log_in(alice)
    browser.resize(390, 844)
    browser.open("/jobs/")
    browser.driver.find_element(By.LINK_TEXT, "Webhooks").click()
    browser.wait_for("document.querySelector('#id_url') !== null")
    browser.driver.find_element(By.ID, "id_name").send_keys("The ERP")
    browser.driver.find_element(By.ID, "id_url").send_keys(
        "https://erp.example.com/farm/hooks?token=abc"
    )
    browser.driver.find_element(By.CSS_SELECTOR, "form.form button.primary").click()
    browser.wait_for("document.querySelector('#secret-key') !== null")
    assert WebhookEndpoint.objects.get().name == "The ERP"
    assert fits_a_phone(browser, "manage-webhooks") == []
    assert "token=abc" not in browser.driver.page_source  # the host only


def test_a_done_job_says_where_to_pick_it_up_and_is_printed_again_in_one_click(
    browser: Browser, alice: User, pla: Any, site: Site, make_printer: Any
) -> None:
    Site.objects.filter(pk=site.pk).update(pickup_location="Shelf B, building 4 reception")
    job = queued_job(alice, pla, quantity=1)
    ended_run(job, make_printer("berlin-01"))
    browser.log_in(alice)
    browser.resize(390, 844)
    browser.open(f"/jobs/{job.pk}/")
    assert (
        "Shelf B, building 4 reception (Berlin)"
        in browser.driver.find_element(By.ID, "pickup").text
    )
    assert fits_a_phone(browser, "job-done-pickup") == []
    browser.driver.find_element(By.CSS_SELECTOR, "#print-again button").click()
    browser.wait_for(f"!location.pathname.endsWith('/jobs/{job.pk}/')")
    again = Job.objects.exclude(pk=job.pk).get()
    assert browser.js("location.pathname") == f"/jobs/{again.pk}/"
    assert again.status in (JobStatus.SUBMITTED, JobStatus.QUOTED)
    assert f"prints #{job.pk} again" in browser.driver.page_source
