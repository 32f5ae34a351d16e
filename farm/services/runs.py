"""Print runs: created on a claimed printer, started, finished or failed, and the bed cleared."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from farm.models import Job, Printer, PrintRun
from farm.models.event import EventKind
from farm.models.printer import PrinterState, free_to_start
from farm.services.enqueue import (
    enqueue_printer_command,
    enqueue_printer_ready,
    enqueue_run_dispatch,
    enqueue_schedule_pass,
)
from farm.services.events import event_record
from farm.services.jobs import copies_summary, job_refresh_status
from farm.services.learning import corrections_observe
from farm.statuses import (
    RUN_ACTIVE,
    RUN_HELD,
    RUN_OPEN,
    JobStatus,
    RunStatus,
    check_run_transition,
)
from printers.commands import PrinterCommand


class PrinterBusy(Exception):
    """Another process claimed the printer first."""


class NothingToPrint(Exception):
    """The copies were already given to other printers (or the job is no longer queued)."""


def run_create(
    *,
    job: Job,
    printer: Printer,
    copies: int,
    planned_start: datetime.datetime,
    planned_end: datetime.datetime,
    actor: User | None = None,
) -> PrintRun:
    """Claim a free printer for a run and enqueue its dispatch.

    The claim is a conditional UPDATE: when two scheduling passes race for one printer, exactly
    one of them sees a row updated, and the other raises PrinterBusy and leaves no run behind.
    """
    with transaction.atomic():
        # The job's row lock orders concurrent passes: two passes planning the same waiting
        # copies onto two printers would otherwise print them twice.
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (JobStatus.QUEUED, JobStatus.PRINTING):
            raise NothingToPrint(f"job {job.pk} is {job.status}")
        if copies > copies_summary(job).waiting:
            raise NothingToPrint(f"job {job.pk} has fewer than {copies} copies waiting")
        run = PrintRun.objects.create(
            job=job,
            printer=printer,
            copies=copies,
            planned_start=planned_start,
            planned_end=planned_end,
        )
        claimed = Printer.objects.filter(free_to_start(), pk=printer.pk).update(current_run=run)
        if claimed != 1:
            transaction.set_rollback(True)
            raise PrinterBusy(printer.name)
        printer.current_run = run
        event_record(EventKind.RUN_CREATED, run=run, actor=actor, copies=copies)
        job_refresh_status(job=job)
        enqueue_run_dispatch(run.pk)
    return run


def run_transition(run: PrintRun, target: str, **fields: Any) -> None:
    """Change a locked run's status (the state machine refuses an illegal move)."""
    check_run_transition(run.status, target)
    run.status = target
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(update_fields=["status", *fields])


def run_start(*, run_id: int) -> None:
    """The printer accepted the G-code and is printing. Safe to call twice."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().select_related("job").get(pk=run_id)
        if run.status != RunStatus.DISPATCHING:
            return
        run_transition(run, RunStatus.PRINTING, started_at=timezone.now())
        event_record(EventKind.RUN_STARTED, run=run)


def run_finish(*, run_id: int, progress: float = 1.0) -> None:
    """The print ended well. The parts wait on the bed, unless the printer ejects them."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().select_related("job", "printer").get(pk=run_id)
        if run.status not in (
            RunStatus.PRINTING,
            RunStatus.PAUSED,
            RunStatus.DISPATCHING,
            RunStatus.IN_DOUBT,
        ):
            return
        if run.status == RunStatus.DISPATCHING:
            # The fleet link saw the print end before dispatch recorded its start.
            run_transition(run, RunStatus.PRINTING, started_at=run.created_at)
        if run.status == RunStatus.PAUSED:
            run_transition(run, RunStatus.PRINTING)
        run_transition(run, RunStatus.AWAITING_REMOVAL, ended_at=timezone.now(), progress=progress)
        printer = Printer.objects.select_for_update().get(pk=run.printer_id)
        printer.bed_clear = False
        printer.save(update_fields=["bed_clear"])
        event_record(EventKind.RUN_FINISHED, run=run, seconds=run.actual_seconds)
        corrections_observe(run=run)
        job_refresh_status(job=Job.objects.select_for_update().get(pk=run.job_id))
        if printer.auto_eject:
            bed_clear(printer=printer, actor=None, reason="the ejection end script cleared the bed")


def run_fail(*, run_id: int, reason: str, progress: float | None = None) -> None:
    """The print stopped without finishing. Its copies go back to the queue."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().select_related("job", "printer").get(pk=run_id)
        if run.status not in RUN_OPEN:
            return
        fields: dict[str, Any] = {"ended_at": timezone.now(), "failure_reason": reason[:1000]}
        if progress is not None:
            fields["progress"] = progress
        run_transition(run, RunStatus.FAILED, **fields)
        printer = Printer.objects.select_for_update().get(pk=run.printer_id)
        # A failed print leaves plastic (or a failed part) on the bed: a person must look.
        printer.bed_clear = False
        printer.save(update_fields=["bed_clear"])
        event_record(EventKind.RUN_FAILED, run=run, message=reason)
        job_refresh_status(job=Job.objects.select_for_update().get(pk=run.job_id))
        enqueue_schedule_pass()


def run_set_paused(*, run_id: int, paused: bool) -> None:
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run_id)
        target = RunStatus.PAUSED if paused else RunStatus.PRINTING
        if run.status == target or run.status not in (RunStatus.PRINTING, RunStatus.PAUSED):
            return
        run_transition(run, target)
        event_record(EventKind.RUN_PAUSED if paused else EventKind.RUN_RESUMED, run=run)


def bed_clear(*, printer: Printer, actor: User | None, reason: str = "") -> None:
    """A person (or an ejection script) took everything off the bed: the printer is free."""
    with transaction.atomic():
        printer = Printer.objects.select_for_update().get(pk=printer.pk)
        run = printer.current_run
        if run is not None and run.status in RUN_HELD:
            raise ValidationError(
                f"{printer.name}: say first whether the interrupted print is good or lost."
            )
        if run is not None and run.status in RUN_ACTIVE:
            raise ValidationError(f"{printer.name} is still printing; wait for it to finish.")
        if printer.bed_clear and run is None:
            return
        printer.bed_clear = True
        printer.current_run = None
        printer.save(update_fields=["bed_clear", "current_run"])
        event_record(
            EventKind.PRINTER_BED_CLEARED,
            printer=printer,
            run=run,
            actor=actor,
            message=reason or "bed cleared",
        )
        if run is not None and run.status == RunStatus.AWAITING_REMOVAL:
            run_transition(run, RunStatus.DONE, cleared_at=timezone.now())
            job_refresh_status(job=Job.objects.select_for_update().get(pk=run.job_id))
        if printer.state == PrinterState.ERROR:
            enqueue_printer_command(printer.pk, PrinterCommand.CLEAR_ERROR)
            enqueue_schedule_pass()
        else:
            enqueue_printer_ready(printer.pk)


def run_dispatch_failed(*, run_id: int, reason: str) -> None:
    """Dispatch gave up (a permanent error, or retries ran out): free the printer again."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.DISPATCHING:
            return
        run_transition(run, RunStatus.FAILED, ended_at=timezone.now(), failure_reason=reason[:1000])
        # Nothing was printed, so the bed is still clear.
        Printer.objects.filter(pk=run.printer_id, current_run=run).update(current_run=None)
        event_record(EventKind.RUN_DISPATCH_FAILED, run=run, message=reason)
        job = Job.objects.select_for_update().get(pk=run.job_id)
        if job.status == JobStatus.PRINTING:
            job_refresh_status(job=job)
        enqueue_schedule_pass()
