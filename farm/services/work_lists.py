"""The floor's work lists: beds to clear and filament to change, in the order to walk them.

Each task says which job it is for and how much queued work it unblocks (the hours of waiting
copies in the material the printer will hold afterwards), so a person can walk the route or
take the most useful task first. An operator can decline a filament change
(`filament_decline`): the planner then plans around it (`filament_declines_active`, read by
farm.services.plan_inputs into each printer's `PrinterSlot.refused`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from farm.models import Event, FilamentDecline, Job, Printer
from farm.models.event import EventKind
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.fleet_feed import fleet_changes_publish
from farm.services.fleet_view import natural_key
from farm.services.printer_actions import BulkOutcome, bulk_ids
from farm.services.printer_control import printer_load_filament
from farm.services.runs import bed_clear
from farm.statuses import RUN_OPEN, JobStatus, RunStatus

# A decline lasts a shift by default: long enough to matter, short enough that a spool
# bought meanwhile is asked for again without anyone remembering to lift it.
DECLINE_HOURS = 8
MAX_DECLINE_HOURS = 24 * 7
ROUTE = "route"
UNBLOCKS = "unblocks"
ORDERS = (ROUTE, UNBLOCKS)
WAITING = (JobStatus.QUEUED, JobStatus.PRINTING)
LEFT_BY: dict[str, str] = {
    RunStatus.AWAITING_REMOVAL: "parts of",
    RunStatus.DONE: "parts of",
    RunStatus.FAILED: "failed print of",
    RunStatus.CANCELLED: "cancelled print of",
}
# Items a list shows: a round of the floor, not a farm's 1,500 (a 1 MB page on a phone);
# the rest come as these are confirmed, or by site.
LIST_LIMIT = 150


@dataclass(frozen=True)
class FloorTask:
    """One thing to do at one printer."""

    kind: str  # "bed" or "filament"
    printer_id: int
    printer: str
    site: str
    row: str
    position: int
    material: str  # what it will hold: loaded now (bed), asked for (filament)
    colour: str
    job_id: int | None  # the job the task is for: on the bed, or needing the filament
    job_name: str
    unblocks_seconds: float  # queued work waiting for what the printer will then hold
    unblocks_jobs: int
    # What is on the bed (beds): the parts of a good print, or what a failed or cancelled
    # one left ("" when the bed was marked by hand).
    left_by: str = ""

    @property
    def unblocks_hours(self) -> float:
        return self.unblocks_seconds / 3600

    def route_key(self) -> tuple[object, ...]:
        return (
            natural_key(self.site),
            natural_key(self.row),
            self.position,
            natural_key(self.printer),
        )


@dataclass(frozen=True)
class WorkLists:
    beds: list[FloorTask]  # the first LIST_LIMIT, in order
    filament: list[FloorTask]
    beds_total: int = 0
    filament_total: int = 0


def work_lists(*, site: str = "", order: str = ROUTE) -> WorkLists:
    """Beds to clear and filament to change (at one site's slug, or all), in `order`:
    the walking route (site, row, place, name) or what unblocks the most work first."""
    printers = Printer.objects.select_related(
        "site", "material", "requested_material", "current_run__job"
    )
    if site:
        printers = printers.filter(site__slug=site)
    beds = list(
        printers.filter(bed_clear=False).exclude(current_run__status__in=RUN_OPEN)
    )  # a print still on (or maybe on) the printer is not a bed to clear yet
    asks = list(printers.exclude(requested_material=None))
    waiting = _waiting_work()
    bed_tasks = [_bed_task(p, waiting) for p in beds]
    filament_tasks = [_filament_task(p, waiting) for p in asks]
    return WorkLists(
        _ordered(bed_tasks, order)[:LIST_LIMIT],
        _ordered(filament_tasks, order)[:LIST_LIMIT],
        beds_total=len(bed_tasks),
        filament_total=len(filament_tasks),
    )


def _ordered(tasks: list[FloorTask], order: str) -> list[FloorTask]:
    if order == UNBLOCKS:
        return sorted(tasks, key=lambda t: (-t.unblocks_seconds, t.route_key()))
    return sorted(tasks, key=FloorTask.route_key)


@dataclass
class _Waiting:
    seconds: float = 0.0
    jobs: int = 0
    first_id: int | None = None  # the job to name: highest priority, then planned first
    first_name: str = ""


def _waiting_work() -> dict[tuple[int, str, int | None], _Waiting]:
    """Queued work by (material id, colour in lower case, site id or None), in one query:
    waiting copies times their estimate (copies on printers are not subtracted: an
    over-estimate of what is left, good enough to rank tasks by)."""
    rows = (
        Job.objects.filter(status__in=WAITING, held=False)
        .order_by("-priority", F("planned_start").asc(nulls_last=True), "id")
        .values("material_id", "colour", "site_id", "id", "name", "quantity", "seconds_per_copy")
    )
    out: dict[tuple[int, str, int | None], _Waiting] = defaultdict(_Waiting)
    for row in rows:
        entry = out[(row["material_id"], row["colour"].lower(), row["site_id"])]
        entry.seconds += row["quantity"] * float(row["seconds_per_copy"] or 0)
        entry.jobs += 1
        if entry.first_id is None:
            entry.first_id, entry.first_name = row["id"], row["name"]
    return out


def _for_printer(
    waiting: dict[tuple[int, str, int | None], _Waiting],
    *,
    material_id: int | None,
    colour: str,
    site_id: int,
) -> _Waiting:
    """The queued work a printer holding (material, colour) at `site_id` could take: jobs
    of that material in that colour or any colour, unrestricted or restricted to its site."""
    total = _Waiting()
    if material_id is None:
        return total
    for colour_key in {colour.lower(), ""}:
        for site_key in (None, site_id):
            entry = waiting.get((material_id, colour_key, site_key))
            if entry is None:
                continue
            total.seconds += entry.seconds
            total.jobs += entry.jobs
            if total.first_id is None:
                total.first_id, total.first_name = entry.first_id, entry.first_name
    return total


def _task(
    kind: str,
    printer: Printer,
    *,
    material: str,
    colour: str,
    job_id: int | None,
    job_name: str,
    unblocks: _Waiting,
    left_by: str = "",
) -> FloorTask:
    return FloorTask(
        kind=kind,
        printer_id=printer.pk,
        printer=printer.name,
        site=printer.site.name,
        row=printer.row,
        position=printer.position,
        material=material,
        colour=colour,
        job_id=job_id,
        job_name=job_name,
        unblocks_seconds=unblocks.seconds,
        unblocks_jobs=unblocks.jobs,
        left_by=left_by,
    )


def _bed_task(printer: Printer, waiting: dict[tuple[int, str, int | None], _Waiting]) -> FloorTask:
    run = printer.current_run
    job = run.job if run is not None else None
    unblocks = _for_printer(
        waiting, material_id=printer.material_id, colour=printer.colour, site_id=printer.site_id
    )
    return _task(
        "bed",
        printer,
        material=str(printer.material or ""),
        colour=printer.colour,
        job_id=job.pk if job else None,
        job_name=job.name if job else "",
        unblocks=unblocks,
        left_by=LEFT_BY.get(run.status, "") if run is not None else "",
    )


def _filament_task(
    printer: Printer, waiting: dict[tuple[int, str, int | None], _Waiting]
) -> FloorTask:
    colour = printer.requested_colour
    unblocks = _for_printer(
        waiting,
        material_id=printer.requested_material_id,
        colour=colour,
        site_id=printer.site_id,
    )
    return _task(
        "filament",
        printer,
        material=str(printer.requested_material or ""),
        colour=colour,
        job_id=unblocks.first_id,
        job_name=unblocks.first_name,
        unblocks=unblocks,
    )


def filament_decline(
    *, printer: Printer, actor: User, reason: str = "", hours: float = DECLINE_HOURS
) -> FilamentDecline:
    """An operator will not load what the planner asked for on `printer` (no spool, wrong
    nozzle for it, ...): the request is withdrawn and, for `hours`, the planner gives this
    printer no work needing that material and colour."""
    if not 0 < hours <= MAX_DECLINE_HOURS:
        raise ValidationError(f"A decline lasts between 0 and {MAX_DECLINE_HOURS} hours.")
    with transaction.atomic():
        printer = (
            # of self: PostgreSQL locks no row of the outer join to the (null) material.
            Printer.objects.select_for_update(of=("self",))
            .select_related("requested_material")
            .get(pk=printer.pk)
        )
        material = printer.requested_material
        if material is None:
            raise ValidationError(f"{printer.name}: no filament change is asked for.")
        colour = printer.requested_colour
        waiting = _for_printer(
            _waiting_work(), material_id=material.pk, colour=colour, site_id=printer.site_id
        )
        decline = FilamentDecline.objects.create(
            printer=printer,
            material=material,
            colour=colour,
            job_id=waiting.first_id,
            reason=reason[:200],
            declined_by=actor,
            until=timezone.now() + datetime.timedelta(hours=hours),
        )
        printer.requested_material = None
        printer.requested_colour = ""
        printer.save(update_fields=["requested_material", "requested_colour"])
        event_record(
            EventKind.PRINTER_FILAMENT_DECLINED,
            printer=printer,
            actor=actor,
            message=f"declined loading {material} {colour}".strip()
            + (f": {reason}" if reason else ""),
            hours=hours,
        )
        enqueue_schedule_pass()  # the planner now plans that work on other printers
    return decline


def filament_declines_active(
    now: datetime.datetime | None = None,
) -> dict[int, frozenset[tuple[str, str]]]:
    """What the planner must not ask each printer to load now: {printer id: {(material name,
    colour in lower case, "" = any colour)}}. A decline for what a printer holds already is
    moot (someone loaded it after all) and left out."""
    now = now or timezone.now()
    rows = (
        FilamentDecline.objects.filter(until__gt=now)
        .exclude(Q(printer__material=F("material")) & Q(printer__colour__iexact=F("colour")))
        .values_list("printer_id", "material__name", "colour")
    )
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for printer_id, material, colour in rows:
        found[printer_id].add((material, colour.lower()))
    return {pk: frozenset(values) for pk, values in found.items()}


def filament_declines_current(*, site: str = "") -> list[FilamentDecline]:
    """The declines in force now (at one site's slug, or all), in walking order."""
    rows = FilamentDecline.objects.filter(until__gt=timezone.now()).select_related(
        "printer__site", "material", "declined_by", "job"
    )
    if site:
        rows = rows.filter(printer__site__slug=site)
    return sorted(
        rows,
        key=lambda d: (
            natural_key(d.printer.site.name),
            natural_key(d.printer.row),
            d.printer.position,
            natural_key(d.printer.name),
        ),
    )


def filament_declines_lift(*, printer_ids: Sequence[int], actor: User) -> BulkOutcome:
    """End the declines on these printers now (a spool arrived): the planner may ask them
    again at its next pass."""
    ids = bulk_ids(printer_ids)
    outcome = BulkOutcome()
    with transaction.atomic():
        now = timezone.now()
        active = FilamentDecline.objects.select_for_update().filter(
            printer_id__in=ids, until__gt=now
        )
        lifted = sorted(set(active.values_list("printer_id", flat=True)))
        active.update(until=now)
        Event.objects.bulk_create(
            Event(
                kind=EventKind.PRINTER_FILAMENT_DECLINE_LIFTED,
                printer_id=pk,
                actor=actor,
                message="decline lifted",
            )
            for pk in lifted
        )
        outcome.done = lifted
        outcome.skipped = {pk: "no decline in force" for pk in ids if pk not in lifted}
        if lifted:
            enqueue_schedule_pass()
    return outcome


def tasks_confirm(*, kind: str, printer_ids: Sequence[int], actor: User) -> BulkOutcome:
    """Confirm several tasks of one kind at once ("bed": cleared, "filament": the requested
    filament loaded), each through its own service and transaction: one refused (still
    printing, say) does not hold up the others."""
    outcome = BulkOutcome()
    ids = bulk_ids(printer_ids)
    printers = Printer.objects.select_related("requested_material").in_bulk(ids)
    for pk in ids:
        printer = printers.get(pk)
        if printer is None:
            outcome.skipped[pk] = "no such printer"
            continue
        try:
            if kind == "bed":
                bed_clear(printer=printer, actor=actor)
            else:
                material = printer.requested_material
                if material is None:
                    raise ValidationError(f"{printer.name}: no filament change is asked for.")
                printer_load_filament(
                    printer=printer, material=material, colour=printer.requested_colour, actor=actor
                )
        except ValidationError as exc:
            outcome.skipped[pk] = " ".join(exc.messages)
        else:
            outcome.done.append(pk)
    fleet_changes_publish(outcome.done)
    return outcome
