"""Quotas through the real pages: what is left on the submission form, and a submission
refused because the month's quota is used up."""

from __future__ import annotations

from typing import Any

from django.test import Client

from farm.models import Job, Quota
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit


def test_the_form_shows_what_is_left_of_the_month_s_quota(
    client: Client, alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    grams = Job.objects.get(pk=job.pk).grams_per_copy
    assert grams
    Quota.objects.create(user=alice, grams_per_month=300, hours_per_month=10)
    client.force_login(alice)
    page = client.get("/jobs/new/").content.decode()
    assert f"Left this month: {300 - grams:,.0f} g of your 300 g; " in page
    assert "printer hours of your 10.0 printer hours." in page


def test_the_form_says_nothing_of_quotas_to_someone_without_one(client: Client, alice: Any) -> None:
    client.force_login(alice)
    assert "Left this month" not in client.get("/jobs/new/").content.decode()


def test_a_submission_over_a_spent_quota_is_refused_on_the_form(
    client: Client, alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    job_prepare(job_id=job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1).pk)
    Quota.objects.create(user=alice, grams_per_month=1)
    client.force_login(alice)
    data = {"file": cube_upload(), "material": pla.pk, "quantity": 1, "priority": 0}
    response = client.post("/jobs/new/", data)
    assert response.status_code == 200
    assert "You have used all of your 1 g for this month" in response.content.decode()
    assert Job.objects.count() == 1


def test_a_job_over_what_is_left_reads_rejected_with_the_amounts_on_its_page(
    client: Client, alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    Quota.objects.create(user=alice, grams_per_month=2)
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Rejected" in page
    assert "of your 2 g left this month." in page
