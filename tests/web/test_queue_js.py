"""The queue's actions without a reload: the same POST asked for JSON answers with the rows
drawn anew (and the cancelled ones gone); queue.js in headless Chromium holds a job from its
row and cancels a ticked one, the page never reloading; without a script the form posts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from farm.models import Job, Material
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from tests.browser import Browser, browser_fixture, chromium_fixture  # noqa: F401
from tests.farm.helpers import claim


@pytest.fixture
def queued(alice: User, pla: Material, cube_upload: Any) -> Any:
    def make() -> Job:
        job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
        job_prepare(job_id=job.pk)
        return Job.objects.get(pk=job.pk)

    return make


def post(client: Client, data: dict[str, Any]) -> Any:
    return client.post("/operator/queue/act/", data, headers={"Accept": "application/json"})


def test_holding_from_a_row_answers_with_the_row_drawn_anew(
    client: Client, operator: User, queued: Any
) -> None:
    job = queued()
    client.force_login(operator)
    answer = post(client, {"row": f"hold:{job.pk}"}).json()
    assert answer["message"] == "held: 1" and answer["gone"] == []
    row = answer["rows"][str(job.pk)]
    assert f'id="queue-job-{job.pk}"' in row and 'class="held"' in row
    assert f'value="release:{job.pk}"' in row
    assert Job.objects.get(pk=job.pk).held


def test_a_cancelled_job_is_gone_and_a_printing_one_needs_the_question(
    client: Client, operator: User, queued: Any, make_printer: Any
) -> None:
    waiting, printing = queued(), queued()
    claim(printing, make_printer("p1"))
    client.force_login(operator)
    response = post(client, {"action": "cancel", "job": [waiting.pk, printing.pk]})
    assert response.status_code == 409
    assert not Job.objects.filter(status=JobStatus.CANCELLED).exists()
    answer = post(client, {"action": "cancel", "job": [waiting.pk]}).json()
    assert answer["gone"] == [waiting.pk] and answer["rows"] == {}
    assert post(client, {"action": "nothing", "job": [printing.pk]}).status_code == 400


def test_an_employee_gets_no_answer(client: Client, alice: User, queued: Any) -> None:
    job = queued()
    client.force_login(alice)
    assert post(client, {"row": f"hold:{job.pk}"}).status_code == 403
    assert not Job.objects.get(pk=job.pk).held


@pytest.mark.integration
def test_queue_js_holds_and_cancels_without_a_reload(
    browser: Browser, operator: User, queued: Any
) -> None:
    kept, cancelled = queued(), queued()
    browser.log_in(operator)
    browser.open("/operator/queue/")
    browser.js("window.notReloaded = true")
    browser.driver.find_element("css selector", f'button[value="hold:{kept.pk}"]').click()
    browser.wait_for(f"document.querySelector('#queue-job-{kept.pk}.held')")
    assert browser.js("document.querySelector('[data-queue-status]').textContent") == "held: 1"
    browser.driver.find_element("css selector", f'input[name=job][value="{cancelled.pk}"]').click()
    browser.js("window.confirm = () => true")  # bulk.js asks before a cancel
    browser.driver.find_element("css selector", 'button[name=action][value="cancel"]').click()
    browser.wait_for(f"!document.getElementById('queue-job-{cancelled.pk}')")
    assert browser.js("window.notReloaded") is True
    assert Job.objects.get(pk=kept.pk).held
    assert Job.objects.get(pk=cancelled.pk).status == JobStatus.CANCELLED
    browser.save_screenshot("queue-js")
    assert browser.console_errors() == []
