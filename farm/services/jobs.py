"""The job lifecycle after preparation: confirm, cancel, and the status kept in step with runs.

Submission is `farm.services.submission`; checking and slicing the file is
`farm.services.preparation`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from farm.models import Job
from farm.models.event import EventKind
from farm.roles import is_operator
from farm.services.enqueue import enqueue_printer_command, enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.promise_disruptions import promise_confirm
from farm.statuses import (
    JOB_OPEN,
    RUN_OPEN,
    RUN_PRINTED,
    JobStatus,
    RunStatus,
    check_job_transition,
)
from printers.commands import PrinterCommand

JOB_STATUS_EVENTS = {
    JobStatus.QUEUED: EventKind.JOB_QUEUED,
    JobStatus.PRINTING: EventKind.JOB_PRINTING,
    JobStatus.DONE: EventKind.JOB_DONE,
}


def job_confirm(*, job: Job, actor: User) -> None:
    """The owner accepts the quoted completion time: the job joins the queue."""
    if job.owner_id != actor.pk and not is_operator(actor):
        raise PermissionDenied("You can only confirm your own jobs.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status != JobStatus.QUOTED:
            raise ValidationError(
                f"A {job.get_status_display().lower()} job needs no confirmation."
            )
        if job.awaits_approval:
            raise ValidationError("An operator must approve this job before it can be confirmed.")
        if job.questions.filter(answer="").exists():
            raise ValidationError("Answer the questions about the part before confirming it.")
        check_job_transition(job.status, JobStatus.QUEUED)
        job.status = JobStatus.QUEUED
        job.confirmed_at = timezone.now()
        job.save(update_fields=["status", "confirmed_at"])
        promise_confirm(job=job, at=job.confirmed_at)  # the promise is what the quote said
        event_record(
            EventKind.JOB_CONFIRMED,
            job=job,
            actor=actor,
            quoted_end=job.planned_end.isoformat() if job.planned_end else None,
        )
        enqueue_schedule_pass()


def job_visible_to(user: User | AnonymousUser) -> QuerySet[Job]:
    """The jobs a user may see: their own, or all of them for operators."""
    if is_operator(user):
        return Job.objects.all()
    if not isinstance(user, User):
        return Job.objects.none()
    return Job.objects.filter(owner=user)


def job_cancel(*, job: Job, actor: User) -> None:
    """Cancel a job; its active runs are stopped on their printers."""
    if job.owner_id != actor.pk and not is_operator(actor):
        raise PermissionDenied("You can only cancel your own jobs.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in JOB_OPEN:
            raise ValidationError(f"A {job.get_status_display().lower()} job cannot be cancelled.")
        check_job_transition(job.status, JobStatus.CANCELLED)
        for run in job.runs.select_for_update().filter(status__in=RUN_OPEN):
            run.status = RunStatus.CANCELLED
            run.ended_at = timezone.now()
            run.failure_reason = "the job was cancelled"
            run.save(update_fields=["status", "ended_at", "failure_reason"])
            # Whatever was printed stays on the bed until a person takes it off.
            run.printer.bed_clear = False
            run.printer.save(update_fields=["bed_clear"])
            enqueue_printer_command(run.printer_id, PrinterCommand.CANCEL)
            event_record(EventKind.RUN_CANCELLED, run=run, actor=actor)
        job.status = JobStatus.CANCELLED
        job.finished_at = timezone.now()
        job.planned_start = job.planned_end = None
        job.save(update_fields=["status", "finished_at", "planned_start", "planned_end"])
        event_record(EventKind.JOB_CANCELLED, job=job, actor=actor)
        enqueue_schedule_pass()


@dataclass(frozen=True)
class CopyCounts:
    """A job's copies: done (off the bed), printed (done or on the bed), printing, waiting."""

    done: int
    printed: int
    printing: int
    waiting: int


def copies_summary(job: Job) -> CopyCounts:
    """Counted from the job's runs (the prefetched ones when the caller prefetched them)."""
    done = printed = printing = 0
    for run in job.runs.all():
        if run.status == RunStatus.DONE:
            done += run.copies
        if run.status in RUN_PRINTED:
            printed += run.copies
        elif run.status in RUN_OPEN:
            printing += run.copies
    waiting = max(0, job.quantity - printed - printing)
    return CopyCounts(done=done, printed=printed, printing=printing, waiting=waiting)


def job_refresh_status(*, job: Job) -> None:
    """Move the job's status to match its runs (call inside the transaction that changed them)."""
    if job.status not in (JobStatus.QUEUED, JobStatus.PRINTING):
        return
    counts = copies_summary(job)
    if counts.done >= job.quantity:
        target = JobStatus.DONE
    elif counts.printing or counts.printed:
        target = JobStatus.PRINTING  # on a printer, or on a bed waiting to be taken off
    else:
        target = JobStatus.QUEUED
    if target == job.status:
        return
    check_job_transition(job.status, target)
    job.status = target
    fields = ["status"]
    if target == JobStatus.DONE:
        job.finished_at = timezone.now()
        job.planned_start = job.planned_end = None
        fields += ["finished_at", "planned_start", "planned_end"]
    job.save(update_fields=fields)
    event_record(JOB_STATUS_EVENTS[target], job=job)
