"""Monthly quotas per user and per group: refused when spent, rejected when a job would
overrun what is left, and what is left on the form."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone

from farm.models import Job, Quota
from farm.models.event import EventKind
from farm.quotas import Allowance, overrun, spent
from farm.services.jobs import job_cancel
from farm.services.preparation import job_prepare
from farm.services.quotas import month_start, quota_allowances
from farm.services.submission import job_submit
from farm.statuses import JobStatus


def test_what_is_left_never_goes_below_nothing() -> None:
    assert Allowance("your", "g", 300, 120).left == 180
    assert Allowance("your", "g", 300, 420).left == 0


def test_a_job_over_what_is_left_is_told_by_how_much() -> None:
    left = [Allowance("your", "g", 500, 200)]
    assert overrun(left, grams=420, hours=1) == (
        "This job would use 420 g of your 300 g left this month."
    )
    assert overrun(left, grams=300, hours=1) is None


def test_hours_are_counted_apart_from_grams() -> None:
    left = [Allowance("the Design group's", "printer hours", 10, 8.5)]
    assert overrun(left, grams=10_000, hours=1.5) is None
    assert overrun(left, grams=0, hours=2) == (
        "This job would use 2.0 printer hours of the Design group's 1.5 printer hours left "
        "this month."
    )


def test_a_spent_limit_says_so_and_one_with_anything_left_does_not() -> None:
    assert spent([Allowance("your", "g", 300, 299)]) is None
    reason = spent([Allowance("your", "g", 300, 300)])
    assert reason is not None and "used all of your 300 g" in reason


def test_the_month_starts_on_the_first_at_midnight_in_the_farm_s_zone(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    timezone.deactivate()
    # 23:30 UTC on 31 January is already 1 February in Berlin.
    at = datetime.datetime(2026, 1, 31, 23, 30, tzinfo=datetime.UTC)
    start = month_start(at)
    assert (start.month, start.day, start.hour) == (2, 1, 0)
    assert start.utcoffset() == datetime.timedelta(hours=1)


def _prepared(owner: Any, material: Any, upload: Any, quantity: int = 1) -> Job:
    job = job_submit(owner=owner, upload=upload, material=material, quantity=quantity)
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def test_a_job_within_the_quota_is_queued_and_counted(
    alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    Quota.objects.create(user=alice, grams_per_month=10_000)
    job = _prepared(alice, pla, cube_upload())
    assert job.status == JobStatus.QUEUED and job.grams_per_copy
    [allowance] = quota_allowances(alice)
    assert allowance.used == pytest.approx(job.grams_per_copy)


def test_a_job_that_would_overrun_the_quota_is_rejected_with_the_amounts(
    alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    first = _prepared(alice, pla, cube_upload())
    grams = first.grams_per_copy
    assert grams
    # What is left after the first job is less than a second job of three copies.
    Quota.objects.create(user=alice, grams_per_month=round(grams * 3))
    second = _prepared(alice, pla, cube_upload(), quantity=3)
    assert second.status == JobStatus.REJECTED
    left = round(grams * 3) - grams
    assert second.status_reason == (
        f"This job would use {grams * 3:,.0f} g of your {left:,.0f} g left this month."
    )
    assert second.events.filter(kind=EventKind.JOB_REJECTED).exists()
    # A rejected job uses nothing: one more single copy still fits.
    assert _prepared(alice, pla, cube_upload()).status == JobStatus.QUEUED


def test_a_spent_quota_refuses_the_next_submission_before_anything_is_saved(
    alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    job = _prepared(alice, pla, cube_upload())
    Quota.objects.create(user=alice, grams_per_month=1, hours_per_month=100)
    with pytest.raises(ValidationError, match="used all of your 1 g"):
        job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    assert Job.objects.count() == 1
    # Cancelled, the job gives its grams back.
    job_cancel(job=job, actor=alice)
    job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)


def test_last_month_s_jobs_do_not_count(alice: Any, pla: Any, cube_upload: Any, site: Any) -> None:
    job = _prepared(alice, pla, cube_upload())
    Quota.objects.create(user=alice, grams_per_month=1)
    Job.objects.filter(pk=job.pk).update(
        submitted_at=month_start(timezone.now()) - datetime.timedelta(seconds=1)
    )
    assert quota_allowances(alice)[0].used == 0


def test_a_group_s_quota_is_shared_by_its_members(
    alice: Any, bob: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    design = Group.objects.create(name="Design")
    design.user_set.add(alice, bob)
    job = _prepared(alice, pla, cube_upload())
    assert job.seconds_per_copy
    Quota.objects.create(group=design, hours_per_month=job.seconds_per_copy / 3600)
    with pytest.raises(ValidationError, match="the Design group's"):
        job_submit(owner=bob, upload=cube_upload(), material=pla, quantity=1)


def test_a_quota_is_of_a_user_or_of_a_group_never_both(alice: Any) -> None:
    from django.db import IntegrityError

    group = Group.objects.create(name="Design")
    with pytest.raises(IntegrityError):
        Quota.objects.create(user=alice, group=group, grams_per_month=1)


def test_the_api_refuses_a_submission_over_a_spent_quota_as_the_form_does(
    alice: Any, pla: Any, cube_upload: Any, site: Any
) -> None:
    from tests.api.conftest import token_client

    Quota.objects.create(user=alice, grams_per_month=0)
    response = token_client(alice).post(
        "/api/v1/jobs/", {"file": cube_upload(), "material": pla.pk, "quantity": 1}
    )
    assert response.status_code == 400
    assert "used all of your 0 g" in response.json()["non_field_errors"][0]
