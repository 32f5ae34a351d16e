"""Print runs: created on a claimed printer, started, finished or failed, and the bed cleared."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from farm.models import Event, Job, Printer, PrintRun
from farm.models.event import EventKind
from farm.models.printer import PrinterState, free_to_start
from farm.services.enqueue import (
    enqueue_printer_command,
    enqueue_printer_ready,
    enqueue_run_dispatches,
    enqueue_schedule_pass,
)
from farm.services.events import event_record
from farm.services.jobs import job_refresh_status
from farm.services.learning import corrections_observe
from farm.services.promise_disruptions import promises_disrupt_printers
from farm.services.rows_insert import rows_insert
from farm.services.spools import spool_use_for_run
from farm.statuses import (
    RUN_ACTIVE,
    RUN_HELD,
    RUN_OPEN,
    RUN_PRINTED,
    JobStatus,
    RunStatus,
    check_job_transition,
    check_run_transition,
)
from printers.commands import PrinterCommand

log = logging.getLogger("farm.events")


class PrinterBusy(Exception):
    """Another process claimed the printer first."""


class NothingToPrint(Exception):
    """The copies were already given to other printers (or the job is no longer queued)."""


@dataclass(frozen=True)
class RunRequest:
    """One run a scheduling pass wants to start: `copies` of job `job_id` on `printer`."""

    job_id: int
    printer: Printer
    copies: int
    planned_start: datetime.datetime
    planned_end: datetime.datetime


@dataclass
class RunsCreated:
    runs: list[PrintRun] = field(default_factory=list)
    busy: list[RunRequest] = field(default_factory=list)  # another process had the printer
    nothing_to_print: list[tuple[RunRequest, str]] = field(default_factory=list)  # and why


def run_create(
    *,
    job: Job,
    printer: Printer,
    copies: int,
    planned_start: datetime.datetime,
    planned_end: datetime.datetime,
    actor: User | None = None,
) -> PrintRun:
    """Claim a free printer for a run and enqueue its dispatch (`runs_create` for one run).

    Raises NothingToPrint when the copies are no longer waiting, PrinterBusy when another
    process claimed the printer first; either way no run is left behind.
    """
    request = RunRequest(job.pk, printer, copies, planned_start, planned_end)
    outcome = runs_create([request], actor=actor)
    if outcome.nothing_to_print:
        raise NothingToPrint(outcome.nothing_to_print[0][1])
    if outcome.busy:
        raise PrinterBusy(printer.name)
    return outcome.runs[0]


RUNS_PER_TRANSACTION = 500


def copies_held(runs: QuerySet[PrintRun]) -> dict[int, int]:
    """Copies on printers or printed, by job, among `runs`: a job's waiting copies are its
    quantity less these (what `copies_summary` counts for one job, for many in one query)."""
    counted = runs.filter(status__in=RUN_OPEN | RUN_PRINTED).values("job_id")
    return dict(counted.annotate(copies=Sum("copies")).values_list("job_id", "copies"))


def runs_create(
    requests: Sequence[RunRequest],
    *,
    actor: User | None = None,
    batch_size: int = RUNS_PER_TRANSACTION,
) -> RunsCreated:
    """Claim free printers for many runs, a batch per transaction, and enqueue each dispatch.

    The guarantees of one claim hold for every run of a batch: the job rows are locked first
    (in id order, so two passes wait for each other instead of deadlocking), so no copy is
    given twice; the printer rows are locked while still free, and the run is written with a
    conditional UPDATE, so two passes never start two runs on one printer. A request that
    loses either race is reported, not raised, and leaves nothing behind.
    """
    outcome = RunsCreated()
    for first in range(0, len(requests), batch_size):
        _runs_create_batch(list(requests[first : first + batch_size]), actor, outcome)
    return outcome


def _runs_create_batch(
    requests: list[RunRequest], actor: User | None, outcome: RunsCreated
) -> None:
    with transaction.atomic():
        job_ids = {r.job_id for r in requests}
        status: dict[int, str] = {}
        waiting: dict[int, int] = {}
        for pk, job_status, quantity in (
            Job.objects.select_for_update()
            .filter(pk__in=job_ids)
            .order_by("pk")
            .values_list("pk", "status", "quantity")
        ):
            status[pk], waiting[pk] = job_status, quantity
        for pk, held in copies_held(PrintRun.objects.filter(job_id__in=job_ids)).items():
            waiting[pk] -= held
        # Locked while free: a pass that comes second waits here and then finds them taken.
        free = set(
            Printer.objects.select_for_update()
            .filter(free_to_start(), pk__in={r.printer.pk for r in requests})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        accepted: list[RunRequest] = []
        for r in requests:
            job_status = status.get(r.job_id, "gone")
            if job_status not in (JobStatus.QUEUED, JobStatus.PRINTING):
                outcome.nothing_to_print.append((r, f"job {r.job_id} is {job_status}"))
            elif r.copies > waiting[r.job_id]:
                why = f"job {r.job_id} has fewer than {r.copies} copies waiting"
                outcome.nothing_to_print.append((r, why))
            elif r.printer.pk not in free:
                outcome.busy.append(r)
            else:
                free.discard(r.printer.pk)  # one run per printer, even in a batch
                waiting[r.job_id] -= r.copies
                accepted.append(r)
        if not accepted:
            return
        # One statement per table whatever the batch (`rows_insert`): bulk_create's
        # placeholder per value cost a second of a farm's first pass.
        now = timezone.now()
        fields = [
            {
                "job_id": r.job_id,
                "printer_id": r.printer.pk,
                "copies": r.copies,
                "planned_start": r.planned_start,
                "planned_end": r.planned_end,
                "created_at": now,
            }
            for r in accepted
        ]
        runs: list[PrintRun] = []
        for pk, r, row in zip(
            rows_insert(PrintRun, fields, with_ids=True), accepted, fields, strict=True
        ):
            run = PrintRun(id=pk, **row)
            run.printer = r.printer
            run._state.adding = False
            run._state.db = "default"
            runs.append(run)
        # The claim: each printer's current run is the new run on it, where still free.
        new_run = PrintRun.objects.filter(
            pk__in=[run.pk for run in runs], printer=OuterRef("pk")
        ).values("pk")[:1]
        claimed = Printer.objects.filter(
            free_to_start(), pk__in=[run.printer_id for run in runs]
        ).update(current_run=Subquery(new_run))
        if claimed != len(accepted):  # the rows were locked free: only a bug gets here
            raise RuntimeError(f"claimed {claimed} of {len(accepted)} locked printers")
        for run in runs:
            run.printer.current_run = run  # the caller's printer, as the database now says
        who = actor.pk if actor is not None and actor.is_authenticated else None
        events = [
            {
                "kind": EventKind.RUN_CREATED.value,
                "job_id": run.job_id,
                "run_id": run.pk,
                "printer_id": run.printer_id,
                "actor_id": who,
                "data": {"copies": run.copies},
            }
            for run in runs
        ]
        started = sorted({run.job_id for run in runs if status[run.job_id] == JobStatus.QUEUED})
        if started:
            # A job with a run on a printer is printing (what job_refresh_status would say).
            check_job_transition(JobStatus.QUEUED, JobStatus.PRINTING)
            Job.objects.filter(pk__in=started).update(status=JobStatus.PRINTING)
        rows_insert(Event, events)
        rows_insert(
            Event,
            [
                {"kind": EventKind.JOB_PRINTING.value, "job_id": pk, "actor_id": None}
                for pk in started
            ],
        )
        log.info("run.created x%d, job.printing x%d", len(runs), len(started))
        # One message per run, sent together after the commit over one connection.
        enqueue_run_dispatches([run.pk for run in runs])
        outcome.runs.extend(runs)


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
        spool_use_for_run(run=run)  # the filament it took, off the loaded spool
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
        spool_use_for_run(run=run, share=run.progress)  # filament up to where it stopped
        job_refresh_status(job=Job.objects.select_for_update().get(pk=run.job_id))
        # Its reprint may delay it, and every job planned after it on this printer.
        promises_disrupt_printers(
            reasons={printer.pk: f"run failed on {printer.name}"}, also=[run.job_id]
        )
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
