"""The scheduling pass: plan every queued copy, publish completion times, start what can start.

The algorithm is `farm.scheduling.plan` (plain Python); this module turns rows into its inputs
(printers, work, each site's rules, learned print times) and its plan back into planned times,
quotes for jobs awaiting confirmation, filament-change requests and runs.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from farm.models import Job, Material, Printer, Site
from farm.models.event import EventKind
from farm.models.job import FileKind
from farm.models.printer import PrinterState
from farm.scheduling import (
    Assignment,
    Plan,
    PlanOptions,
    PrinterSlot,
    SiteRules,
    WorkItem,
    plan,
    quote,
)
from farm.scheduling.estimates import Corrections
from farm.scheduling.types import incompatibility, needs_change
from farm.services.events import event_record
from farm.services.jobs import copies_summary
from farm.services.learning import corrections_load, plan_model, time_scale
from farm.services.runs import NothingToPrint, PrinterBusy, run_create
from farm.statuses import RUN_ACTIVE, RUN_HELD, JobStatus

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
MAX_QUOTES_PER_PASS = 20  # each quote is one more full plan


class StartOutcome(StrEnum):
    """What acting on a printer's next planned run did."""

    STARTED = "started"
    FILAMENT = "filament"  # an operator was asked to load the filament first
    NOT_STARTED = "not_started"  # nothing due, or another process got there first


def is_due_now(a: Assignment, now: float) -> bool:
    """Start a planned run when it is due within a second, or within the filament change
    the plan puts before it (the operator's change is part of the wait)."""
    change = settings.FARM_MATERIAL_CHANGE_SECONDS if a.material_change else 0.0
    return a.start <= now + 1.0 + change


@dataclass(frozen=True)
class PassResult:
    planned_jobs: int
    runs_started: int
    unplaceable: dict[int, str]
    filament_requests: int = 0


def to_timestamp(moment: datetime.datetime) -> float:
    return moment.timestamp()


def from_timestamp(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def site_rules(site: Site, now: datetime.datetime) -> SiteRules:
    always = (site.staffed_from_hour, site.staffed_until_hour) == (0, 24)
    weekdays = tuple(sorted({int(d) for d in site.staffed_weekdays if d.isdigit() and d < "7"}))
    offset = now.astimezone(ZoneInfo(site.timezone)).utcoffset() or datetime.timedelta()
    return SiteRules(
        staffed_hours=() if always else ((site.staffed_from_hour, site.staffed_until_hour),),
        staffed_weekdays=weekdays or (0, 1, 2, 3, 4, 5, 6),
        utc_offset_hours=offset.total_seconds() / 3600,
        clear_seconds=settings.FARM_BED_CLEAR_SECONDS,
        change_seconds=settings.FARM_MATERIAL_CHANGE_SECONDS,
        max_heating=site.max_heating,
    )


def printer_slots(now: datetime.datetime) -> tuple[list[PrinterSlot], dict[int, Printer]]:
    printers = (
        Printer.objects.filter(enabled=True, maintenance=False, site__online=True)
        .filter(state__in=PLANNABLE_STATES)
        .select_related("site", "material", "current_run")
    )
    slots: list[PrinterSlot] = []
    by_id: dict[int, Printer] = {}
    for p in printers:
        run = p.current_run
        if run is not None and run.status in RUN_HELD:
            continue  # a person decides what became of its print before it takes more work
        printing = run is not None and run.status in RUN_ACTIVE
        free_at = max(now, run.planned_end) if printing and run is not None else now
        slots.append(
            PrinterSlot(
                id=p.pk,
                site=p.site.slug,
                model=plan_model(p),
                free_at=to_timestamp(free_at),
                material=p.material.name if p.material else "",
                colour=p.colour,
                nozzle_mm=p.nozzle_mm,
                build_mm=p.build_volume,
                # A person clears the bed after the run on it (the ejection script does that
                # on auto-eject printers, except after a failure, which leaves bed_clear off).
                needs_clearing=not p.bed_clear or printing,
                auto_eject=p.auto_eject and p.bed_clear,
            )
        )
        by_id[p.pk] = p
    return slots, by_id


def _work_item(
    job: Job, copies: int, corrections: Corrections, scales: dict[str, float]
) -> WorkItem:
    seconds = float(job.seconds_per_copy or 0)
    return WorkItem(
        job_id=job.pk,
        copies=copies,
        seconds_per_copy=seconds,
        material=job.material.name,
        colour=job.colour,
        size_mm=job.size or (0.0, 0.0, 0.0),
        nozzle_mm=job.nozzle_mm,
        priority=job.priority,
        due=to_timestamp(job.due) if job.due else None,
        submitted=to_timestamp(job.submitted_at),
        site=job.site.slug if job.site else None,
        preferred_site=job.needed_at.slug if job.needed_at else None,
        copies_per_plate=job.copies_per_plate,
        rotatable=job.file_kind != FileKind.GCODE,
        model_seconds=tuple(
            sorted(
                (model, corrections.corrected(seconds / scale, model))
                for model, scale in scales.items()
            )
        ),
    )


def work_items(
    statuses: tuple[str, ...], corrections: Corrections, scales: dict[str, float]
) -> tuple[list[WorkItem], dict[int, Job]]:
    jobs = (
        Job.objects.filter(status__in=statuses)
        .filter(~Q(seconds_per_copy=None))
        .select_related("material", "site", "needed_at")
        .prefetch_related("runs")
    )
    items: list[WorkItem] = []
    by_id: dict[int, Job] = {}
    for job in jobs:
        by_id[job.pk] = job
        waiting = copies_summary(job).waiting
        if waiting:
            items.append(_work_item(job, waiting, corrections, scales))
    return items, by_id


@dataclass
class PlanInputs:
    now: datetime.datetime
    slots: list[PrinterSlot]
    printers: dict[int, Printer]
    items: list[WorkItem]
    jobs: dict[int, Job]
    sites: dict[str, SiteRules]
    options: PlanOptions
    corrections: Corrections
    scales: dict[str, float]


def plan_inputs() -> PlanInputs:
    """The farm as the planner sees it, read from the database now."""
    now = timezone.now()
    slots, printers = printer_slots(now)
    scales = {plan_model(p): time_scale(p) for p in printers.values()}
    corrections = corrections_load()
    items, jobs = work_items((JobStatus.QUEUED, JobStatus.PRINTING), corrections, scales)
    sites = {s.slug: site_rules(s, now) for s in Site.objects.all()}
    return PlanInputs(now, slots, printers, items, jobs, sites, PlanOptions(), corrections, scales)


def schedule_pass() -> PassResult:
    """Plan the whole farm, save every job's planned times, and start runs due now."""
    inputs = plan_inputs()
    result: Plan = plan(
        inputs.slots,
        inputs.items,
        now=to_timestamp(inputs.now),
        sites=inputs.sites,
        options=inputs.options,
    )
    _publish_times(result, inputs.jobs, inputs.now)
    _quote_waiting_jobs(inputs)
    started, requests = _start_due_runs(result, inputs)
    return PassResult(len(inputs.jobs), started, dict(result.unplaceable), requests)


def _publish_times(result: Plan, jobs: dict[int, Job], now: datetime.datetime) -> None:
    spans: dict[int, list[float]] = defaultdict(list)
    for a in result.assignments:
        spans[a.job_id] += [a.start, a.end]
    for job_id, job in jobs.items():
        active_ends = [
            to_timestamp(r.planned_end) for r in job.runs.all() if r.status in RUN_ACTIVE
        ]
        times = spans.get(job_id, []) + active_ends
        note = result.unplaceable.get(job_id, "")
        start = from_timestamp(min(times)) if times else None
        end = from_timestamp(max(max(times), to_timestamp(now))) if times else None
        if (job.planned_start, job.planned_end, job.plan_note) != (start, end, note):
            Job.objects.filter(pk=job_id).update(
                planned_start=start, planned_end=end, plan_note=note[:200]
            )


def _quote_waiting_jobs(inputs: PlanInputs) -> None:
    """Jobs waiting for their owner's confirmation get the completion time they would get."""
    waiting = (
        Job.objects.filter(status=JobStatus.QUOTED)
        .exclude(seconds_per_copy=None)
        .select_related("material", "site", "needed_at")
        .order_by("submitted_at")[:MAX_QUOTES_PER_PASS]
    )
    for job in waiting:
        new = _work_item(job, job.quantity, inputs.corrections, inputs.scales)
        end, why = quote(
            inputs.slots,
            inputs.items,
            new,
            now=to_timestamp(inputs.now),
            sites=inputs.sites,
            options=inputs.options,
        )
        Job.objects.filter(pk=job.pk).update(
            planned_end=from_timestamp(end) if end is not None else None, plan_note=why[:200]
        )


def _start_due_runs(result: Plan, inputs: PlanInputs) -> tuple[int, int]:
    """Start each free printer's first planned run when it is due, or, when the plan swaps
    material on that printer first, ask an operator to load it."""
    first: dict[int, Assignment] = {}
    for planned in sorted(result.assignments, key=lambda x: x.start):
        first.setdefault(planned.printer_id, planned)
    started = requests = 0
    now = to_timestamp(inputs.now)
    for printer_id, printer in inputs.printers.items():
        if not printer.available:
            continue
        a = first.get(printer_id)
        if a is None or not is_due_now(a, now):
            _filament_request(printer, None, "")
            continue
        outcome = assignment_start(a, inputs, printer)
        started += outcome == StartOutcome.STARTED
        requests += outcome == StartOutcome.FILAMENT
    return started, requests


def _holder_of(a: Assignment, inputs: PlanInputs) -> Printer | None:
    """A free printer that already holds the material a planned change is for, if any.

    The plan decides printer by printer, so a printer can be given a job with a filament
    change while another printer holding that filament stands idle; starting it there saves
    an operator's change and the time it takes.
    """
    work = next((w for w in inputs.items if w.job_id == a.job_id), None)
    if work is None:
        return None
    for slot in inputs.slots:
        printer = inputs.printers[slot.id]
        if (
            slot.id != a.printer_id
            and printer.available
            and not needs_change(slot.material, slot.colour, work)
            and incompatibility(slot, work) is None
        ):
            return printer
    return None


def assignment_start(a: Assignment, inputs: PlanInputs, printer: Printer) -> StartOutcome:
    """Act on a printer's next planned run: start it, or ask for its filament."""
    job = inputs.jobs[a.job_id]
    now = inputs.now
    if a.material_change:
        holder = _holder_of(a, inputs)
        if holder is None:
            _filament_request(printer, job.material, job.colour)
            return StartOutcome.FILAMENT
        printer = holder
    _filament_request(printer, None, "")
    try:
        run_create(
            job=job,
            printer=printer,
            copies=a.copies,
            planned_start=now,
            planned_end=now + datetime.timedelta(seconds=a.end - a.start),
        )
    except (PrinterBusy, NothingToPrint) as exc:
        log.info("not starting on %s: %s", printer.name, exc)
        return StartOutcome.NOT_STARTED
    return StartOutcome.STARTED


def _filament_request(printer: Printer, material: Material | None, colour: str) -> int:
    """Ask an operator to load `material`/`colour` (None: withdraw the request)."""
    material_id = material.pk if material is not None else None
    if (printer.requested_material_id, printer.requested_colour) == (material_id, colour):
        return 1 if material_id else 0
    with transaction.atomic():
        Printer.objects.filter(pk=printer.pk).update(
            requested_material_id=material_id, requested_colour=colour
        )
        if material_id:
            event_record(
                EventKind.PRINTER_FILAMENT_REQUESTED,
                printer=printer,
                message=f"load {material} {colour}".strip(),
            )
    printer.requested_material_id, printer.requested_colour = material_id, colour
    return 1 if material_id else 0
