"""The scheduling pass: plan every queued copy, publish completion times, start what can start.

The algorithm is `farm.scheduling.plan` (plain Python); this module turns rows into its inputs
(printers, work, each site's rules, learned print times) and its plan back into planned times,
quotes for jobs awaiting confirmation, filament-change requests and runs.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from farm.models import Event, Job, Material, Printer, PrintRun, Site
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
from farm.services.jobs import copies_summary
from farm.services.learning import corrections_load, plan_model, time_scale
from farm.services.runs import RunRequest, runs_create
from farm.statuses import RUN_ACTIVE, RUN_HELD, RUN_OPEN, RUN_PRINTED, JobStatus

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
# A planned time that moved less than this is not written again: with free printers every
# plan shifts by the seconds between two passes, and 40,000 jobs would be rewritten each time.
PUBLISH_TOLERANCE = datetime.timedelta(seconds=60)
PUBLISH_BATCH = 2000  # jobs per UPDATE statement
# The runs that count a job's copies (printing or printed); failed and cancelled ones do not.
COUNTED_RUNS = RUN_OPEN | RUN_PRINTED


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
    times_published: int = 0  # jobs whose planned times were written


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
    # One query for the jobs, one for the runs that count their copies (copies_summary and
    # _publish_times read the prefetched runs, never the database).
    counted = PrintRun.objects.filter(status__in=COUNTED_RUNS)
    jobs = (
        Job.objects.filter(status__in=statuses)
        .exclude(seconds_per_copy=None)
        .select_related("material", "site", "needed_at")
        .prefetch_related(Prefetch("runs", queryset=counted))
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
    work: dict[int, WorkItem] = field(default_factory=dict)  # by job id
    # Free printers by the material they hold: where a planned filament change can be avoided.
    holders: dict[str, list[PrinterSlot]] = field(default_factory=dict)


def plan_inputs() -> PlanInputs:
    """The farm as the planner sees it, read from the database now (in five queries)."""
    now = timezone.now()
    slots, printers = printer_slots(now)
    scales = {plan_model(p): time_scale(p) for p in printers.values()}
    corrections = corrections_load()
    items, jobs = work_items((JobStatus.QUEUED, JobStatus.PRINTING), corrections, scales)
    sites = {s.slug: site_rules(s, now) for s in Site.objects.all()}
    holders: dict[str, list[PrinterSlot]] = defaultdict(list)
    for slot in slots:
        if printers[slot.id].available:
            holders[slot.material].append(slot)
    return PlanInputs(
        now,
        slots,
        printers,
        items,
        jobs,
        sites,
        PlanOptions(),
        corrections,
        scales,
        work={w.job_id: w for w in items},
        holders=dict(holders),
    )


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
    published = _publish_times(result, inputs.jobs, inputs.now)
    _quote_waiting_jobs(inputs)
    started, requests = _start_due_runs(result, inputs)
    return PassResult(len(inputs.jobs), started, dict(result.unplaceable), requests, published)


def _moved(old: datetime.datetime | None, new: datetime.datetime | None) -> bool:
    if old is None or new is None:
        return old is not new
    return abs(old - new) >= PUBLISH_TOLERANCE


def _publish_times(result: Plan, jobs: dict[int, Job], now: datetime.datetime) -> int:
    """Write each job's planned start and end, and why nothing could be planned, where they
    changed (by PUBLISH_TOLERANCE or more), in batched UPDATEs. Returns the jobs written."""
    spans: dict[int, tuple[float, float]] = {}
    for a in result.assignments:
        first, last = spans.get(a.job_id, (a.start, a.end))
        spans[a.job_id] = (min(first, a.start), max(last, a.end))
    changed: list[Job] = []
    for job_id, job in jobs.items():
        times = list(spans.get(job_id, ())) + [
            to_timestamp(r.planned_end) for r in job.runs.all() if r.status in RUN_ACTIVE
        ]
        note = result.unplaceable.get(job_id, "")[:200]
        start = from_timestamp(min(times)) if times else None
        end = from_timestamp(max(max(times), to_timestamp(now))) if times else None
        if (
            _moved(job.planned_start, start)
            or _moved(job.planned_end, end)
            or job.plan_note != note
        ):
            job.planned_start, job.planned_end, job.plan_note = start, end, note
            changed.append(job)
    Job.objects.bulk_update(
        changed, ["planned_start", "planned_end", "plan_note"], batch_size=PUBLISH_BATCH
    )
    return len(changed)


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
    material on that printer first, ask an operator to load it. The runs start in batches
    (`runs_create`), each batch one transaction with the claims of `run_create`."""
    first: dict[int, Assignment] = {}
    for planned in sorted(result.assignments, key=lambda x: x.start):
        first.setdefault(planned.printer_id, planned)
    now = to_timestamp(inputs.now)
    requests: list[RunRequest] = []
    asks: dict[int, FilamentAsk] = {}
    taken: set[int] = set()  # printers given a run in this pass (the rows change later)
    filament = 0
    for printer_id, printer in inputs.printers.items():
        if not printer.available or printer_id in taken:
            continue
        a = first.get(printer_id)
        if a is None or not is_due_now(a, now):
            asks.setdefault(printer_id, FilamentAsk(printer, None, ""))
            continue
        request = _start_request(a, inputs, printer, taken, asks)
        if request is None:
            filament += 1
        else:
            requests.append(request)
    _filament_requests(asks.values())
    outcome = runs_create(requests)
    if outcome.busy or outcome.nothing_to_print:
        log.info(
            "not started: %d printers taken by another process, %d jobs with nothing waiting",
            len(outcome.busy),
            len(outcome.nothing_to_print),
        )
    return len(outcome.runs), filament


@dataclass(frozen=True)
class FilamentAsk:
    """What an operator is asked to load on a printer (material None: nothing)."""

    printer: Printer
    material: Material | None
    colour: str


def _start_request(
    a: Assignment,
    inputs: PlanInputs,
    printer: Printer,
    taken: set[int],
    asks: dict[int, FilamentAsk],
) -> RunRequest | None:
    """The run to start for a printer's next planned run, or None when an operator must load
    its filament first (the request is then in `asks`)."""
    job = inputs.jobs[a.job_id]
    if a.material_change:
        holder = _holder_of(a, inputs, taken)
        if holder is None:
            asks[printer.pk] = FilamentAsk(printer, job.material, job.colour)
            return None
        asks[printer.pk] = FilamentAsk(printer, None, "")
        printer = holder
    asks[printer.pk] = FilamentAsk(printer, None, "")
    taken.add(printer.pk)
    now = inputs.now
    return RunRequest(
        job=job,
        printer=printer,
        copies=a.copies,
        planned_start=now,
        planned_end=now + datetime.timedelta(seconds=a.end - a.start),
    )


def _holder_of(a: Assignment, inputs: PlanInputs, taken: set[int]) -> Printer | None:
    """A free printer that already holds the material a planned change is for, if any.

    The plan decides printer by printer, so a printer can be given a job with a filament
    change while another printer holding that filament stands idle; starting it there saves
    an operator's change and the time it takes.
    """
    work = inputs.work.get(a.job_id)
    if work is None:
        return None
    for slot in inputs.holders.get(work.material, ()):
        printer = inputs.printers[slot.id]
        if (
            slot.id != a.printer_id
            and slot.id not in taken
            and printer.available
            and not needs_change(slot.material, slot.colour, work)
            and incompatibility(slot, work) is None
        ):
            return printer
    return None


def assignment_start(a: Assignment, inputs: PlanInputs, printer: Printer) -> StartOutcome:
    """Act on one printer's next planned run: start it, or ask for its filament."""
    asks: dict[int, FilamentAsk] = {}
    request = _start_request(a, inputs, printer, set(), asks)
    _filament_requests(asks.values())
    if request is None:
        return StartOutcome.FILAMENT
    outcome = runs_create([request])
    if not outcome.runs:
        log.info("not starting on %s: taken, or nothing left to print", request.printer.name)
        return StartOutcome.NOT_STARTED
    return StartOutcome.STARTED


def _filament_requests(asks: Iterable[FilamentAsk]) -> None:
    """Ask operators to load what each printer needs (or withdraw the request), writing only
    the printers whose request changed: one UPDATE per material and colour asked for."""
    changed: dict[tuple[int | None, str], list[FilamentAsk]] = defaultdict(list)
    for ask in asks:
        material_id = ask.material.pk if ask.material is not None else None
        current = (ask.printer.requested_material_id, ask.printer.requested_colour)
        if current != (material_id, ask.colour):
            changed[(material_id, ask.colour)].append(ask)
    if not changed:
        return
    events: list[Event] = []
    with transaction.atomic():
        for (material_id, colour), group in changed.items():
            Printer.objects.filter(pk__in=[ask.printer.pk for ask in group]).update(
                requested_material_id=material_id, requested_colour=colour
            )
            for ask in group:
                ask.printer.requested_material_id, ask.printer.requested_colour = (
                    material_id,
                    colour,
                )
                if ask.material is not None:
                    message = f"load {ask.material} {colour}".strip()
                    events.append(
                        Event(
                            kind=EventKind.PRINTER_FILAMENT_REQUESTED,
                            printer=ask.printer,
                            message=message,
                        )
                    )
        Event.objects.bulk_create(events)
