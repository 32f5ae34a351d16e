"""Jobs over a site's approval rule wait, held, for an operator: approved, they are planned;
refused, they are cancelled with the operator's note for their owner."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from farm.approvals import ApprovalRule, approval_reason
from farm.models import Job, Site
from farm.models.event import EventKind
from farm.roles import is_operator
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.jobs import job_cancel
from farm.services.pricing import job_price

APPROVAL_NOTE = "waits for an operator's approval"


def _rules(job: Job) -> list[ApprovalRule]:
    # A job fixed to a site answers to that site's rule; one the planner may put anywhere,
    # to every site's, since it may end up at any of them.
    sites = Site.objects.filter(pk=job.site_id) if job.site_id else Site.objects.all()
    return [
        ApprovalRule(s.name, s.approve_above_grams, s.approve_above_hours, s.approve_above_cost)
        for s in sites
    ]


def approval_needed(job: Job) -> str | None:
    """Why the estimated `job` must wait for approval (None: it need not)."""
    price = job_price(job)
    return approval_reason(
        _rules(job),
        grams=(job.grams_per_copy or 0) * job.quantity,
        hours=(job.seconds_per_copy or 0) * job.quantity / 3600,
        cost=price.amount if price else None,
        currency=settings.FARM_CURRENCY,
    )


def job_hold_for_approval(job: Job, reason: str) -> None:
    """Mark `job` (locked, being accepted) as waiting; the caller saves it."""
    job.approval_reason = reason[:300]
    job.held = True
    job.plan_note = APPROVAL_NOTE


def _pending(job: Job, actor: User) -> Job:
    if not is_operator(actor):
        raise PermissionDenied("Operators decide approvals.")
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if not locked.awaits_approval:
        raise ValidationError("This job does not wait for approval.")
    return locked


def job_approve(*, job: Job, actor: User, note: str = "") -> None:
    with transaction.atomic():
        job = _pending(job, actor)
        job.approval_decided_at = timezone.now()
        job.approved_by = actor
        job.approval_note = note.strip()
        job.held = False
        job.plan_note = ""
        job.save(
            update_fields=[
                "approval_decided_at",
                "approved_by",
                "approval_note",
                "held",
                "plan_note",
            ]
        )
        event_record(EventKind.JOB_RELEASED, job=job, actor=actor, message=f"approved {note}")
        enqueue_schedule_pass()


def job_refuse(*, job: Job, actor: User, note: str) -> None:
    """Cancel the waiting job; the note (required: the owner is owed a reason) is its status
    reason."""
    if not note.strip():
        raise ValidationError("Say why, for the person who submitted it.")
    with transaction.atomic():
        locked = _pending(job, actor)
        job_cancel(job=locked, actor=actor)
        Job.objects.filter(pk=locked.pk).update(
            approval_decided_at=timezone.now(),
            approved_by=actor,
            approval_note=note.strip(),
            status_reason=f"Refused by {actor.username}: {note.strip()}",
        )
