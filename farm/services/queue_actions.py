"""What an operator does to waiting work: hold and release, priority, site, cancel; for one
job or many at once. Each change is an event and wakes the planner once.

A held job keeps its place and its copies on printers print on; the planner leaves its
waiting copies out (farm.services.plan_inputs reads only jobs not held) until it is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from farm.models import Event, Job, Site
from farm.models.event import EventKind
from farm.models.job import Priority
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.jobs import job_cancel
from farm.services.printer_actions import BulkOutcome, bulk_ids
from farm.statuses import JOB_OPEN

HELD_NOTE = "held by an operator"


def _open_jobs(job_ids: Sequence[int]) -> list[Job]:
    return list(
        Job.objects.select_for_update()
        .filter(pk__in=bulk_ids(job_ids), status__in=JOB_OPEN)
        .order_by("pk")
    )


@dataclass(frozen=True)
class _Change:
    """One field set on many open jobs, with the event each changed job gets."""

    field: str
    value: object
    kind: EventKind
    message: str
    unchanged: str  # why a job that has the value already is left
    extra: dict[str, object] = dataclass_field(default_factory=dict)  # also set when changed


def _jobs_change(job_ids: Sequence[int], change: _Change, actor: User) -> BulkOutcome:
    outcome = BulkOutcome()
    with transaction.atomic():
        jobs = _open_jobs(job_ids)
        found = {job.pk for job in jobs}
        for pk in job_ids:
            if pk not in found:
                outcome.skipped[pk] = "no longer open"
        ids = []
        for job in jobs:
            if getattr(job, change.field) == change.value:
                outcome.skipped[job.pk] = change.unchanged
            elif change.field == "held" and job.awaits_approval:
                # Released or held again by hand, it would skip the approval (or lose it).
                outcome.skipped[job.pk] = "waits for approval: approve or refuse it on its page"
            else:
                ids.append(job.pk)
        Job.objects.filter(pk__in=ids).update(**{change.field: change.value}, **change.extra)
        Event.objects.bulk_create(
            Event(kind=change.kind, job_id=pk, actor=actor, message=change.message) for pk in ids
        )
        outcome.done = ids
        if ids:
            enqueue_schedule_pass()
    return outcome


def jobs_hold(*, job_ids: Sequence[int], held: bool, actor: User) -> BulkOutcome:
    """Hold jobs (the planner leaves them out; their planned times are withdrawn) or release
    them (planned again at the next pass)."""
    if held:
        change = _Change(
            "held",
            True,
            EventKind.JOB_HELD,
            "held",
            "already held",
            {"planned_start": None, "planned_end": None, "plan_note": HELD_NOTE},
        )
    else:
        change = _Change(
            "held", False, EventKind.JOB_RELEASED, "released", "not held", {"plan_note": ""}
        )
    return _jobs_change(job_ids, change, actor)


def jobs_set_priority(*, job_ids: Sequence[int], priority: int, actor: User) -> BulkOutcome:
    if priority not in Priority.values:
        raise ValidationError(f"{priority} is not a priority.")
    label = Priority(priority).label
    change = _Change(
        "priority", priority, EventKind.JOB_PRIORITY, f"priority {label}", f"already {label}"
    )
    return _jobs_change(job_ids, change, actor)


def jobs_move_site(*, job_ids: Sequence[int], site: Site | None, actor: User) -> BulkOutcome:
    """Restrict jobs to one site (or to none: any site). Copies already on printers stay
    where they are; the waiting ones are planned at the new site."""
    where = site.name if site else "any site"
    change = _Change(
        "site_id",
        site.pk if site else None,
        EventKind.JOB_MOVED,
        f"moved to {where}",
        f"already at {where}",
    )
    return _jobs_change(job_ids, change, actor)


def jobs_cancel(*, job_ids: Sequence[int], actor: User) -> BulkOutcome:
    """Cancel each job through `job_cancel` (its prints under way are stopped)."""
    outcome = BulkOutcome()
    for job in Job.objects.filter(pk__in=bulk_ids(job_ids)).order_by("pk"):
        try:
            job_cancel(job=job, actor=actor)
        except ValidationError as exc:
            outcome.skipped[job.pk] = " ".join(exc.messages)
        else:
            outcome.done.append(job.pk)
    return outcome
