"""The scheduling pass: plan every queued copy, publish completion times, start what can start.

The algorithm is `farm.scheduling.plan` (plain Python); this module turns rows into its inputs
and its plan back into planned times and runs.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from farm.models import Job, Printer
from farm.models.printer import PrinterState
from farm.scheduling import Plan, PrinterSlot, WorkItem, plan
from farm.services.jobs import copies_summary
from farm.services.runs import PrinterBusy, run_create
from farm.statuses import JobStatus

log = logging.getLogger(__name__)

# States in which a printer can take work now or soon; offline and error printers get none.
PLANNABLE_STATES = frozenset(
    {
        PrinterState.READY,
        PrinterState.FINISHED,
        PrinterState.STARTING,
        PrinterState.PRINTING,
        PrinterState.PAUSED,
        PrinterState.PAUSING,
    }
)


@dataclass(frozen=True)
class PassResult:
    planned_jobs: int
    runs_started: int
    unplaceable: dict[int, str]


def _ts(moment: datetime.datetime) -> float:
    return moment.timestamp()


def _dt(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def printer_slots(now: datetime.datetime) -> tuple[list[PrinterSlot], dict[int, Printer]]:
    printers = (
        Printer.objects.filter(enabled=True, maintenance=False, site__online=True)
        .filter(state__in=PLANNABLE_STATES)
        .exclude(material=None)
        .select_related("site", "material", "current_run")
    )
    slots: list[PrinterSlot] = []
    by_id: dict[int, Printer] = {}
    for p in printers:
        free_at = now
        run = p.current_run
        if run is not None and run.ended_at is None:
            free_at = max(now, run.planned_end)
        # After a run, a person clears the bed, unless an ejection script does it.
        if not p.bed_clear or (run is not None and not p.auto_eject):
            free_at += datetime.timedelta(seconds=settings.FARM_BED_CLEAR_SECONDS)
        slots.append(
            PrinterSlot(
                id=p.pk,
                site=p.site.slug,
                model=p.model,
                free_at=_ts(free_at),
                material=p.material.name if p.material else "",
                colour=p.colour,
                nozzle_mm=p.nozzle_mm,
                build_mm=p.build_volume,
            )
        )
        by_id[p.pk] = p
    return slots, by_id


def work_items() -> tuple[list[WorkItem], dict[int, Job]]:
    jobs = (
        Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.PRINTING))
        .filter(~Q(seconds_per_copy=None))
        .select_related("material", "site")
    )
    items: list[WorkItem] = []
    by_id: dict[int, Job] = {}
    for job in jobs:
        by_id[job.pk] = job
        waiting = copies_summary(job)["waiting"]
        if waiting == 0:
            continue
        items.append(
            WorkItem(
                job_id=job.pk,
                copies=waiting,
                seconds_per_copy=float(job.seconds_per_copy or 0),
                material=job.material.name,
                colour=job.colour,
                size_mm=job.size or (0.0, 0.0, 0.0),
                nozzle_mm=job.nozzle_mm,
                priority=job.priority,
                due=_ts(job.due) if job.due else None,
                submitted=_ts(job.submitted_at),
                site=job.site.slug if job.site else None,
            )
        )
    return items, by_id


def schedule_pass() -> PassResult:
    """Plan the whole farm, save every job's planned times, and start runs due now."""
    now = timezone.now()
    slots, printers = printer_slots(now)
    items, jobs = work_items()
    result: Plan = plan(slots, items, now=_ts(now))
    _publish_times(result, jobs, now)
    started = _start_due_runs(result, jobs, printers, now)
    return PassResult(len(jobs), started, dict(result.unplaceable))


def _publish_times(result: Plan, jobs: dict[int, Job], now: datetime.datetime) -> None:
    spans: dict[int, list[float]] = defaultdict(list)
    for a in result.assignments:
        spans[a.job_id] += [a.start, a.end]
    for job_id, job in jobs.items():
        active_ends = [
            _ts(r.planned_end)
            for r in job.runs.all()
            if r.ended_at is None and r.status in ("dispatching", "printing", "paused")
        ]
        times = spans.get(job_id, []) + active_ends
        note = result.unplaceable.get(job_id, "")
        start = _dt(min(times)) if times else None
        end = _dt(max(max(times), _ts(now))) if times else None
        if (job.planned_start, job.planned_end, job.plan_note) != (start, end, note):
            Job.objects.filter(pk=job_id).update(
                planned_start=start, planned_end=end, plan_note=note[:200]
            )


def _start_due_runs(
    result: Plan, jobs: dict[int, Job], printers: dict[int, Printer], now: datetime.datetime
) -> int:
    started = 0
    taken: set[int] = set()
    horizon = _ts(now) + 1.0
    for a in sorted(result.assignments, key=lambda a: a.start):
        if a.start > horizon or a.printer_id in taken:
            continue
        printer = printers[a.printer_id]
        if not printer.available:
            continue
        taken.add(a.printer_id)
        try:
            run_create(
                job=jobs[a.job_id],
                printer=printer,
                copies=a.copies,
                planned_start=now,
                planned_end=now + datetime.timedelta(seconds=a.end - a.start),
            )
        except PrinterBusy:
            log.info("printer %s was claimed by another pass", printer.name)
            continue
        started += 1
    return started
