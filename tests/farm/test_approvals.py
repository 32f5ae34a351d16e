"""Approval rules per site: a job over a threshold waits, held and not planned, until an
operator approves it (then it is planned) or refuses it (cancelled, with the note)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from farm.approvals import ApprovalRule, approval_reason
from farm.models import Job, Site
from farm.models.event import EventKind
from farm.services.approvals import job_approve, job_refuse
from farm.services.preparation import job_prepare
from farm.services.queue_actions import jobs_hold
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.statuses import JobStatus


def _reason(rule: ApprovalRule, cost: Decimal | None = Decimal("5")) -> str | None:
    return approval_reason([rule], grams=420, hours=3, cost=cost, currency="EUR")


def test_a_job_over_any_threshold_needs_approval_and_says_which() -> None:
    assert _reason(ApprovalRule("Berlin", grams=200)) == (
        "it uses 420 g, over the 200 g Berlin prints freely"
    )
    assert _reason(ApprovalRule("Berlin", hours=2.5)) == (
        "it takes 3.0 printer hours, over the 2.5 h Berlin prints freely"
    )
    assert _reason(ApprovalRule("Berlin", cost=Decimal("4.99"))) == (
        "it costs 5 EUR, over the 4.99 EUR Berlin prints freely"
    )


def test_a_job_at_or_under_every_threshold_needs_none() -> None:
    assert _reason(ApprovalRule("Berlin", grams=420, hours=3, cost=Decimal(5))) is None
    assert _reason(ApprovalRule("Berlin")) is None
    assert _reason(ApprovalRule("Berlin", cost=Decimal(1)), cost=None) is None


@pytest.fixture
def strict_site(site: Site, make_printer: Any) -> Site:
    make_printer("p1")
    site.approve_above_grams = 1
    site.save()
    return site


def _held(owner: Any, material: Any, upload: Any, **order: Any) -> Job:
    job = job_submit(owner=owner, upload=upload, material=material, quantity=1, **order)
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def test_a_job_over_the_rule_is_held_unplanned_with_the_reason(
    alice: Any, pla: Any, cube_upload: Any, strict_site: Site
) -> None:
    job = _held(alice, pla, cube_upload(), confirm_required=True)
    assert job.status == JobStatus.QUOTED
    assert job.held and job.awaits_approval
    assert (
        job.approval_reason.startswith("it uses ") and "over the 1 g Berlin" in job.approval_reason
    )
    assert job.events.filter(kind=EventKind.JOB_HELD).exists()
    schedule_pass()
    assert Job.objects.get(pk=job.pk).planned_end is None


def test_a_job_under_every_rule_is_not_held(
    alice: Any, pla: Any, cube_upload: Any, strict_site: Site
) -> None:
    strict_site.approve_above_grams = 10_000
    strict_site.save()
    job = _held(alice, pla, cube_upload())
    assert not job.held and not job.approval_reason


def test_a_job_that_may_print_anywhere_answers_to_every_site_s_rule(
    alice: Any, pla: Any, cube_upload: Any, site: Site
) -> None:
    Site.objects.create(name="Paris", slug="paris", approve_above_hours=0.001)
    assert _held(alice, pla, cube_upload()).awaits_approval
    assert not _held(alice, pla, cube_upload(), site=site).awaits_approval


def test_approved_it_is_planned(
    alice: Any, operator: Any, pla: Any, cube_upload: Any, strict_site: Site
) -> None:
    job = _held(alice, pla, cube_upload())
    job_approve(job=job, actor=operator, note="fine this once")
    job = Job.objects.get(pk=job.pk)
    assert not job.held and not job.awaits_approval
    assert job.approved_by == operator and job.approval_note == "fine this once"
    schedule_pass()
    assert Job.objects.get(pk=job.pk).planned_end is not None
    with pytest.raises(ValidationError, match="does not wait"):
        job_approve(job=job, actor=operator)


def test_refused_it_is_cancelled_with_the_operator_s_note(
    alice: Any, operator: Any, pla: Any, cube_upload: Any, strict_site: Site
) -> None:
    job = _held(alice, pla, cube_upload())
    with pytest.raises(ValidationError, match="Say why"):
        job_refuse(job=job, actor=operator, note=" ")
    job_refuse(job=job, actor=operator, note="print it in two halves")
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.CANCELLED
    assert job.status_reason == "Refused by olga: print it in two halves"


def test_an_employee_cannot_approve_even_their_own_job(
    alice: Any, pla: Any, cube_upload: Any, strict_site: Site
) -> None:
    job = _held(alice, pla, cube_upload())
    with pytest.raises(PermissionDenied):
        job_approve(job=job, actor=alice)


def test_the_queue_s_release_does_not_skip_the_approval(
    alice: Any, operator: Any, pla: Any, cube_upload: Any, strict_site: Site
) -> None:
    job = _held(alice, pla, cube_upload())
    outcome = jobs_hold(job_ids=[job.pk], held=False, actor=operator)
    assert outcome.done == [] and "approve or refuse" in outcome.skipped[job.pk]
    assert Job.objects.get(pk=job.pk).held
