"""Approvals through the real pages: the employee sees why their job waits, an operator
approves or refuses it there with a note, and the note reaches the employee."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from farm.models import Job, Site
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from farm.statuses import JobStatus


@pytest.fixture
def waiting(alice: Any, pla: Any, cube_upload: Any, site: Site, make_printer: Any) -> Job:
    make_printer("p1")
    site.approve_above_grams = 1
    site.save()
    job = job_submit(
        owner=alice, upload=cube_upload(), material=pla, quantity=1, confirm_required=True
    )
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def test_the_employee_sees_why_the_job_waits_and_cannot_decide(
    client: Client, alice: Any, waiting: Job
) -> None:
    client.force_login(alice)
    page = client.get(f"/jobs/{waiting.pk}/").content.decode()
    assert "Waits for an operator's approval:</strong> it uses " in page
    assert "An operator must approve this job first" in page
    assert "Approve</button>" not in page
    assert client.post(f"/jobs/{waiting.pk}/approve/").status_code == 403


def test_an_operator_approves_with_a_note_the_employee_then_reads(
    client: Client, alice: Any, operator: Any, waiting: Job
) -> None:
    client.force_login(operator)
    assert "Approve</button>" in client.get(f"/jobs/{waiting.pk}/").content.decode()
    response = client.post(f"/jobs/{waiting.pk}/approve/", {"note": "fine this once"})
    assert response.status_code == 302
    assert not Job.objects.get(pk=waiting.pk).held
    client.force_login(alice)
    page = client.get(f"/jobs/{waiting.pk}/").content.decode()
    assert "Approved by olga on " in page and "“fine this once”" in page


def test_an_operator_refuses_only_with_a_reason(
    client: Client, alice: Any, operator: Any, waiting: Job
) -> None:
    client.force_login(operator)
    refused = client.post(f"/jobs/{waiting.pk}/refuse/", {"note": ""}, follow=True)
    assert "Say why, for the person who submitted it." in refused.content.decode()
    assert Job.objects.get(pk=waiting.pk).awaits_approval
    client.post(f"/jobs/{waiting.pk}/refuse/", {"note": "print it in two halves"})
    assert Job.objects.get(pk=waiting.pk).status == JobStatus.CANCELLED
    client.force_login(alice)
    page = client.get(f"/jobs/{waiting.pk}/").content.decode()
    assert "Refused by olga: print it in two halves" in page
