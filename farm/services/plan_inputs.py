"""What the scheduling pass plans with, read from the database in a few set-based queries.

At farm scale (5,000 printers, 40,000 jobs) the reading is most of a pass's time: jobs are read
as plain values, not model instances, and the copies their runs hold are counted by the
database (`copies_held`), not by a query (or a related manager) per job.
"""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import FloatField, Func, QuerySet
from django.utils import timezone

from farm.models import Job, Material, Printer, PrintRun, Site
from farm.models.job import FileKind
from farm.models.printer import PrinterState
from farm.scheduling import Assignment, PlanOptions, PrinterSlot, SiteRules, WorkItem
from farm.scheduling.calendar import Staffing
from farm.scheduling.estimates import Corrections
from farm.scheduling.promises import due_with
from farm.services.learning import corrections_load, plan_model, time_scale
from farm.services.maintenance import maintenance_due_points
from farm.services.plan_store import previous_plan
from farm.services.runs import copies_held
from farm.services.stock_plan import stock_plan
from farm.services.work_lists import filament_declines_active
from farm.statuses import RUN_ACTIVE, RUN_HELD, JobStatus

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
        .select_related("current_run")
    )
    # A handful of sites and materials, shared by every printer: select_related made one
    # instance of each per printer (10,000 model instances at 5,000 printers).
    sites = {s.pk: s for s in Site.objects.all()}
    materials = {m.pk: m for m in Material.objects.all()}
    slots: list[PrinterSlot] = []
    by_id: dict[int, Printer] = {}
    declined = filament_declines_active(now)
    due_points = maintenance_due_points()
    staffing = {pk: Staffing(site_rules(site, now)) for pk, site in sites.items()}
    for p in printers:
        p.site = sites[p.site_id]
        p.material = materials.get(p.material_id) if p.material_id is not None else None
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
                refused=declined.get(p.pk, frozenset()),
                maintenance=_maintenance_window(due_points.get(p.pk), staffing[p.site_id]),
            )
        )
        by_id[p.pk] = p
    return slots, by_id


# The work itself, planned from the first staffed moment at or after the due point.
MAINTENANCE_PLAN_SECONDS = 3600.0


def _maintenance_window(due: float | None, staffing: Staffing) -> tuple[tuple[float, float], ...]:
    """The plan keeps the printer idle from its maintenance due point until someone there has
    had time to do the work: no run is planned across the due point (the sweep would take the
    printer out of service mid-plan, and its runs with it)."""
    if due is None:
        return ()
    return ((due, staffing.next_staffed(due) + MAINTENANCE_PLAN_SECONDS),)


class Epoch(Func):
    """A datetime column as POSIX seconds, worked out by the database: the planner counts in
    seconds, and turning 160,000 timestamps into datetimes and back cost a second a pass."""

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8"
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # julianday() of the stored UTC text: days since noon, 24 November 4714 BC.
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template)


# What the pass reads of each job: plain values, not model instances (at 40,000 jobs a model
# instance per job, and a related manager per job for its runs, cost more than the plan);
# times as POSIX seconds (`JOB_TIMES`).
JOB_FIELDS = (
    "id",
    "quantity",
    "seconds_per_copy",
    "material",
    "material__name",
    "colour",
    "size_x_mm",
    "size_y_mm",
    "size_z_mm",
    "nozzle_mm",
    "priority",
    "due",
    "submitted_at",
    "site__slug",
    "needed_at__slug",
    "copies_per_plate",
    "file_kind",
    "plan_note",
)
JOB_TIMES = {
    "due_s": Epoch("due"),
    "submitted_s": Epoch("submitted_at"),
    "planned_start_s": Epoch("planned_start"),
    "planned_end_s": Epoch("planned_end"),
    "promised_s": Epoch("promised_end"),
}


def job_values(jobs: QuerySet[Job]) -> QuerySet[Job, dict[str, Any]]:
    """The rows `work_item` and `PlannedJob` are made from."""
    return jobs.values(*JOB_FIELDS, **JOB_TIMES)


@dataclass(frozen=True)
class PlannedJob:
    """A job as the pass knows it: what its runs and filament requests need, and the times
    last published for it (POSIX seconds, to write only those that moved)."""

    pk: int
    material_id: int
    material: str
    colour: str
    planned_start: float | None
    planned_end: float | None
    plan_note: str
    active_ends: tuple[float, ...] = ()  # planned ends of its runs on printers now


def work_item(
    row: dict[str, Any],
    copies: int,
    model_seconds: Callable[[float], tuple[tuple[str, float], ...]],
) -> WorkItem:
    seconds = float(row["seconds_per_copy"] or 0)
    size = (row["size_x_mm"], row["size_y_mm"], row["size_z_mm"])
    return WorkItem(
        job_id=row["id"],
        copies=copies,
        seconds_per_copy=seconds,
        material=row["material__name"],
        colour=row["colour"],
        size_mm=(0.0, 0.0, 0.0) if None in size else size,
        nozzle_mm=row["nozzle_mm"],
        priority=row["priority"],
        due=due_with(row["due_s"], row["promised_s"]),  # a promise is a due date
        submitted=row["submitted_s"],
        site=row["site__slug"],
        preferred_site=row["needed_at__slug"],
        copies_per_plate=row["copies_per_plate"],
        rotatable=row["file_kind"] != FileKind.GCODE,
        model_seconds=model_seconds(seconds),
    )


def model_seconds_of(
    corrections: Corrections, scales: dict[str, float]
) -> Callable[[float], tuple[tuple[str, float], ...]]:
    """Seconds per copy on each printer model, learned corrections applied; the jobs of one
    part share their estimate, so each estimate is worked out once per pass."""

    @functools.cache
    def per_model(seconds: float) -> tuple[tuple[str, float], ...]:
        return tuple(
            sorted(
                (model, corrections.corrected(seconds / scale, model))
                for model, scale in scales.items()
            )
        )

    return per_model


def _planned_job(row: dict[str, Any], active_ends: list[float]) -> PlannedJob:
    return PlannedJob(
        pk=row["id"],
        material_id=row["material"],
        material=row["material__name"],
        colour=row["colour"],
        planned_start=row["planned_start_s"],
        planned_end=row["planned_end_s"],
        plan_note=row["plan_note"],
        active_ends=tuple(active_ends),
    )


def work_items(
    statuses: tuple[str, ...], corrections: Corrections, scales: dict[str, float]
) -> tuple[list[WorkItem], dict[int, PlannedJob]]:
    """The waiting copies of every job in `statuses`, in three queries: the jobs, the copies
    their runs hold, and the planned ends of their runs on printers."""
    runs = PrintRun.objects.filter(job__status__in=statuses)
    held = copies_held(runs)
    ends: dict[int, list[float]] = defaultdict(list)
    active = runs.filter(status__in=RUN_ACTIVE)
    for job_id, end in active.values_list("job_id", Epoch("planned_end")):
        ends[job_id].append(end)
    # A held job is not planned (an operator holds it back: farm.services.queue_actions).
    rows = (
        Job.objects.filter(status__in=statuses, held=False)
        .exclude(seconds_per_copy=None)
        .order_by("pk")
    )
    model_seconds = model_seconds_of(corrections, scales)
    items: list[WorkItem] = []
    by_id: dict[int, PlannedJob] = {}
    for row in job_values(rows):
        by_id[row["id"]] = _planned_job(row, ends.get(row["id"], []))
        waiting = max(0, row["quantity"] - held.get(row["id"], 0))
        if waiting:
            items.append(work_item(row, waiting, model_seconds))
    return items, by_id


def plan_options() -> PlanOptions:
    """The farm's planning weights (settings): what an operator's filament change is worth
    in makespan, and how much better a fresh plan must be to move promised runs."""
    return PlanOptions(
        change_penalty_seconds=settings.FARM_CHANGE_PENALTY_MINUTES * 60.0,
        replan_gain=settings.FARM_REPLAN_GAIN,
    )


@dataclass
class PlanInputs:
    now: datetime.datetime
    slots: list[PrinterSlot]
    printers: dict[int, Printer]
    items: list[WorkItem]
    jobs: dict[int, PlannedJob]
    sites: dict[str, SiteRules]
    options: PlanOptions
    corrections: Corrections
    scales: dict[str, float]
    work: dict[int, WorkItem] = field(default_factory=dict)  # by job id
    previous: list[Assignment] = field(default_factory=list)  # the last pass's plan
    # Free printers by the (material, colour) they hold, and by (material, None) whatever the
    # colour, in reverse slot order: where a planned filament change can be avoided.
    holders: dict[tuple[str, str | None], list[PrinterSlot]] = field(default_factory=dict)
    # Jobs left out of the plan for want of filament in stock, and why (`stock_plan`).
    stock_notes: dict[int, str] = field(default_factory=dict)


def plan_inputs() -> PlanInputs:
    """The farm as the planner sees it, read from the database now (in five queries)."""
    now = timezone.now()
    slots, printers = printer_slots(now)
    scales = {plan_model(p): time_scale(p) for p in printers.values()}
    corrections = corrections_load()
    items, jobs = work_items((JobStatus.QUEUED, JobStatus.PRINTING), corrections, scales)
    stock = stock_plan(slots, items)
    slots, items = stock.slots, stock.items
    sites = {s.slug: site_rules(s, now) for s in Site.objects.all()}
    holders: dict[tuple[str, str | None], list[PrinterSlot]] = defaultdict(list)
    for slot in reversed(slots):
        if printers[slot.id].available:
            holders[(slot.material, slot.colour.lower())].append(slot)
            holders[(slot.material, None)].append(slot)
    return PlanInputs(
        now,
        slots,
        printers,
        items,
        jobs,
        sites,
        plan_options(),
        corrections,
        scales,
        work={w.job_id: w for w in items},
        holders=dict(holders),
        previous=previous_plan(),
        stock_notes=stock.notes,
    )
