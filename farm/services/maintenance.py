"""Maintenance: how far each printer is towards each of its schedules, the sweep that takes
overdue printers out of service (Printer.maintenance, which the planner and the run claim
already respect) and reminds people, the log of work done, and failure rates per printer
from the farm's own runs.

Usage since a schedule's work was last done (print hours, runs, days) is summed in SQL, one
query per schedule for all of its printers (schedules are dozens; printers thousands).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from farm.models import (
    Event,
    MaintenanceHold,
    MaintenanceLog,
    MaintenanceSchedule,
    Printer,
    PrintRun,
)
from farm.records_rules import Due, FailureFlag, Interval, Outcomes, Usage, due_share, failure_flag
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.notifications import Message, NotifyEvent, notify
from farm.statuses import RUN_PRINTED, RunStatus

MAINTENANCE_DUE = "maintenance.due"
MAINTENANCE_DONE = "maintenance.done"


@dataclass(frozen=True)
class DueItem:
    schedule: MaintenanceSchedule
    printer: Printer
    since: datetime.datetime  # when the work was last done (or the schedule made)
    usage: Usage
    due: Due

    @property
    def overdue(self) -> bool:
        return self.due.share >= 1.0

    @property
    def soon(self) -> bool:
        return not self.overdue and self.due.share * 100 >= self.schedule.remind_at_percent

    @property
    def key(self) -> str:
        """Names one cycle of one schedule on one printer (a reminder is sent once a cycle)."""
        return f"maintenance:{self.schedule.pk}:{self.printer.pk}:{self.since.isoformat()}"


def _schedule_printers(schedule: MaintenanceSchedule) -> Q:
    if schedule.printer_id is not None:
        return Q(pk=schedule.printer_id)
    return Q(model=schedule.printer_model)


def schedule_covers(schedule: MaintenanceSchedule, printer: Printer) -> bool:
    if schedule.printer_id is not None:
        return schedule.printer_id == printer.pk
    return schedule.printer_model == printer.model


def maintenance_status(*, printer_ids: list[int] | None = None) -> list[DueItem]:
    """Every active schedule on every printer it covers, with its usage and due share,
    the most urgent first."""
    now = timezone.now()
    items: list[DueItem] = []
    for schedule in MaintenanceSchedule.objects.filter(active=True).select_related("printer"):
        last_done = (
            MaintenanceLog.objects.filter(printer=OuterRef("pk"), schedule=schedule)
            .order_by("-done_at")
            .values("done_at")[:1]
        )
        runs = PrintRun.objects.filter(
            printer=OuterRef("pk"),
            started_at__isnull=False,
            started_at__gte=OuterRef("since"),
        ).exclude(status=RunStatus.RELEASED)
        # A run still printing counts up to now: hours are the nozzle's, finished or not.
        duration = ExpressionWrapper(
            Coalesce("ended_at", Now(), output_field=DateTimeField()) - F("started_at"),
            output_field=DurationField(),
        )
        hours = runs.order_by().values("printer").annotate(t=Sum(duration)).values("t")
        count = runs.order_by().values("printer").annotate(n=Count("pk")).values("n")
        printers = Printer.objects.filter(_schedule_printers(schedule))
        if printer_ids is not None:
            printers = printers.filter(pk__in=printer_ids)
        printers = printers.annotate(
            since=Coalesce(
                Subquery(last_done), Value(schedule.created_at), output_field=DateTimeField()
            )
        ).annotate(
            print_time=Subquery(hours, output_field=DurationField()),
            run_count=Subquery(count),
        )
        interval = Interval(schedule.every_print_hours, schedule.every_runs, schedule.every_days)
        for p in printers.select_related("site"):
            seconds = p.print_time.total_seconds() if p.print_time else 0.0
            usage = Usage(
                print_hours=seconds / 3600,
                runs=p.run_count or 0,
                days=(now - p.since).total_seconds() / 86400,
            )
            items.append(DueItem(schedule, p, p.since, usage, due_share(usage, interval)))
    items.sort(key=lambda i: (-i.due.share, i.printer.name))
    return items


OVERVIEW_KEY = "maintenance-overview"
OVERVIEW_ITEMS = 500
DUE_POINTS_KEY = "maintenance-due-points"


def _due_points(status: list[DueItem], at: datetime.datetime) -> dict[int, float]:
    """Per printer, the earliest moment (POSIX seconds) one of its blocking schedules can
    fall due by print hours or days: the planner plans no run across it. Print hours left
    count as wall-clock time, since no printer prints more hours than pass; a schedule by
    runs only cannot be turned into a time (the sweep takes the printer out when it is due)."""
    points: dict[int, float] = {}
    for item in status:
        s = item.schedule
        if not s.blocks or item.overdue:
            continue  # an overdue printer is out of service: the planner does not see it
        left = []
        if s.every_print_hours:
            left.append((s.every_print_hours - item.usage.print_hours) * 3600.0)
        if s.every_days:
            left.append((s.every_days - item.usage.days) * 86400.0)
        if left:
            due = at.timestamp() + max(0.0, min(left))
            points[item.printer.pk] = min(points.get(item.printer.pk, due), due)
    return points


def maintenance_due_points() -> dict[int, float]:
    """The due points the last sweep (or work logged since) found; none before the first
    sweep (counting them takes seconds on a large farm, too long for every pass)."""
    found = cache.get(DUE_POINTS_KEY)
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Overview:
    """What the maintenance page lists: the due and due-soon items, most urgent first."""

    due: list[DueItem]
    upcoming: int  # schedule-printer pairs not due yet
    at: datetime.datetime


def _overview_store(status: list[DueItem]) -> Overview:
    due = [i for i in status if i.overdue or i.soon]
    overview = Overview(due[:OVERVIEW_ITEMS], len(status) - len(due), timezone.now())
    # Kept until two sweeps have passed: counting it again takes seconds on a large farm
    # (3 s at 10,000 printers), too long for a page opened all day.
    timeout = 2 * settings.FARM_RECORDS_SWEEP_SECONDS + 60
    cache.set(OVERVIEW_KEY, overview, timeout=timeout)
    cache.set(DUE_POINTS_KEY, _due_points(status, overview.at), timeout=timeout)
    return overview


def maintenance_overview() -> Overview:
    """The overview as the last sweep (or work logged since) left it; counted now when the
    cache has none."""
    found = cache.get(OVERVIEW_KEY)
    return found if isinstance(found, Overview) else _overview_store(maintenance_status())


def _overview_refresh(printer: Printer) -> None:
    """Work was logged on `printer`: its items are counted again, the others kept."""
    found = cache.get(OVERVIEW_KEY)
    if not isinstance(found, Overview):
        return
    mine = maintenance_status(printer_ids=[printer.pk])
    points = maintenance_due_points()
    points.pop(printer.pk, None)
    points.update(_due_points(mine, timezone.now()))
    cache.set(DUE_POINTS_KEY, points, timeout=2 * settings.FARM_RECORDS_SWEEP_SECONDS + 60)
    rest = [i for i in found.due if i.printer.pk != printer.pk]
    soon = [i for i in mine if i.overdue or i.soon]
    due = sorted(rest + soon, key=lambda i: (-i.due.share, i.printer.name))
    cache.set(
        OVERVIEW_KEY,
        Overview(due[:OVERVIEW_ITEMS], found.upcoming + len(mine) - len(soon), found.at),
        timeout=2 * settings.FARM_RECORDS_SWEEP_SECONDS + 60,
    )


@dataclass
class SweepResult:
    held: int = 0  # printers taken out of service
    released: int = 0  # holds lifted (the schedule changed, or is no longer due)
    reminders: int = 0  # notifications written


def maintenance_sweep() -> SweepResult:
    """Take every printer past a blocking schedule's due point out of service, with the
    reason; lift holds that no longer apply; remind people of work due soon or overdue."""
    result = SweepResult()
    status = maintenance_status()
    _overview_store(status)
    overdue = {(i.printer.pk, i.schedule.pk): i for i in status if i.overdue and i.schedule.blocks}
    with transaction.atomic():
        for hold in MaintenanceHold.objects.select_for_update():
            if (hold.printer_id, hold.schedule_id) not in overdue:
                _lift(hold, actor=None, why="its schedule is no longer due")
                result.released += 1
        result.held = _hold(overdue)
        if result.held or result.released:
            enqueue_schedule_pass()
        messages = [
            Message(
                NotifyEvent.MAINTENANCE_DUE,
                f"{i.printer.name}: {i.schedule.task} {'overdue' if i.overdue else 'due soon'}",
                f"{i.schedule.task} on {i.printer.name} ({i.printer.site}): {i.due.what}."
                + (
                    " The printer is out of service until it is done."
                    if i.overdue and i.schedule.blocks
                    else ""
                ),
                i.key + (":overdue" if i.overdue else ":soon"),
            )
            for i in status
            if i.overdue or i.soon
        ]
        messages += _failing_messages()
        result.reminders = notify(messages)
    return result


def _hold(overdue: dict[tuple[int, int], DueItem]) -> int:
    """Hold every overdue printer not yet held for that schedule, in a few set-based
    statements (a farm's first sweep may take thousands out at once)."""
    held = set(MaintenanceHold.objects.values_list("printer_id", "schedule_id"))
    new = {key: item for key, item in overdue.items() if key not in held}
    if not new:
        return 0
    printer_ids = sorted({pk for pk, _ in new})
    # Locked in id order, so a sweep and a person's action on one printer wait, not deadlock.
    in_maintenance = dict(
        Printer.objects.select_for_update()
        .filter(pk__in=printer_ids)
        .order_by("pk")
        .values_list("pk", "maintenance")
    )
    already = {pk for pk, _ in held}  # a hold of ours already owns the printer's flag
    holds: list[MaintenanceHold] = []
    events: list[Event] = []
    flag: set[int] = set()  # printers this sweep takes out of service
    for (printer_id, _), item in sorted(new.items()):
        reason = f"Maintenance due: {item.schedule.task} ({item.due.what})"[:300]
        owns = not in_maintenance.get(printer_id, True) and printer_id not in flag | already
        if owns:
            flag.add(printer_id)
        holds.append(
            MaintenanceHold(
                printer_id=printer_id,
                schedule=item.schedule,
                reason=reason,
                set_maintenance=owns,
            )
        )
        events.append(Event(kind=MAINTENANCE_DUE, printer_id=printer_id, message=reason))
    MaintenanceHold.objects.bulk_create(holds)
    Printer.objects.filter(pk__in=flag).update(maintenance=True)
    Event.objects.bulk_create(events)
    return len(holds)


def _lift(hold: MaintenanceHold, *, actor: User | None, why: str) -> None:
    """Remove a hold; the printer goes back into service when the sweep had taken it out and
    no other hold keeps it out."""
    printer = Printer.objects.select_for_update().get(pk=hold.printer_id)
    hold.delete()
    rest = MaintenanceHold.objects.filter(printer=printer)
    if hold.set_maintenance and not rest.exists() and printer.maintenance:
        printer.maintenance = False
        printer.save(update_fields=["maintenance"])
        event_record(
            MAINTENANCE_DONE, printer=printer, actor=actor, message=f"back in service: {why}"
        )
        enqueue_schedule_pass()
    elif hold.set_maintenance and rest.exists():
        # The next hold now owns the printer's maintenance flag.
        rest.update(set_maintenance=True)


def maintenance_log_work(
    *,
    printer: Printer,
    actor: User | None,
    schedule: MaintenanceSchedule | None = None,
    note: str = "",
    done_at: datetime.datetime | None = None,
) -> MaintenanceLog:
    """Record work done on a printer. Done for a schedule, its cycle starts again and its
    hold (if any) is lifted, so the printer goes back into service."""
    if schedule is not None and not schedule_covers(schedule, printer):
        raise ValidationError(f"{schedule.task} is not a schedule of {printer.name}.")
    with transaction.atomic():
        entry = MaintenanceLog.objects.create(
            printer=printer,
            schedule=schedule,
            done_by=actor if actor is not None and actor.is_authenticated else None,
            done_at=done_at or timezone.now(),
            note=note.strip()[:2000],
        )
        what = schedule.task if schedule else "unplanned work"
        event_record(
            MAINTENANCE_DONE, printer=printer, actor=actor, message=f"{what}: {note}".strip(": ")
        )
        if schedule is not None:
            for hold in MaintenanceHold.objects.select_for_update().filter(
                printer=printer, schedule=schedule
            ):
                _lift(hold, actor=actor, why=f"{schedule.task} done")
        transaction.on_commit(lambda: _overview_refresh(printer))
    return entry


def failure_rates(*, days: int | None = None) -> dict[int, FailureFlag]:
    """Each printer's failure rate over the window, against its model's other printers (or
    the farm), and whether it is flagged: counted in SQL, judged by `failure_flag`."""
    days = days or settings.FARM_FAILURE_WINDOW_DAYS
    start = timezone.now() - datetime.timedelta(days=days)
    rows = (
        PrintRun.objects.filter(
            ended_at__gte=start,
            started_at__isnull=False,
            status__in=[RunStatus.FAILED, *RUN_PRINTED],
        )
        .values("printer_id", "printer__model")
        .annotate(runs=Count("pk"), failed=Count("pk", filter=Q(status=RunStatus.FAILED)))
        .order_by()
    )
    per_printer: dict[int, tuple[str, Outcomes]] = {}
    per_model: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    farm = [0, 0]
    for r in rows:
        per_printer[r["printer_id"]] = (r["printer__model"], Outcomes(r["runs"], r["failed"]))
        per_model[r["printer__model"]][0] += r["runs"]
        per_model[r["printer__model"]][1] += r["failed"]
        farm[0] += r["runs"]
        farm[1] += r["failed"]
    flags = {}
    for pk, (model, own) in per_printer.items():
        m_runs, m_failed = per_model[model]
        peers = Outcomes(m_runs - own.runs, m_failed - own.failed)
        rest = Outcomes(farm[0] - own.runs, farm[1] - own.failed)
        flags[pk] = failure_flag(own, peers, rest, min_runs=settings.FARM_FAILURE_MIN_RUNS)
    return flags


def _failing_messages() -> list[Message]:
    flags = {pk: f for pk, f in failure_rates().items() if f.flagged}
    names = dict(Printer.objects.filter(pk__in=flags).values_list("pk", "name"))
    today = timezone.now().date().isoformat()
    return [
        Message(
            NotifyEvent.MAINTENANCE_DUE,
            f"{names[pk]} keeps failing",
            f"{names[pk]}: {flag.why}. Look at it before it wastes more plastic.",
            f"failing:{pk}:{today}",  # said at most once a day
        )
        for pk, flag in flags.items()
        if pk in names
    ]


@dataclass(frozen=True)
class PrinterMaintenance:
    """What a printer's page shows of its maintenance."""

    due: list[DueItem]
    holds: list[MaintenanceHold]
    log: list[MaintenanceLog]
    failure: FailureFlag | None


def printer_maintenance(*, printer: Printer, log_entries: int = 20) -> PrinterMaintenance:
    """One printer's schedules with where it stands, why it is held, its log and failure rate."""
    return PrinterMaintenance(
        due=maintenance_status(printer_ids=[printer.pk]),
        holds=list(MaintenanceHold.objects.filter(printer=printer).select_related("schedule")),
        log=list(
            MaintenanceLog.objects.filter(printer=printer).select_related("schedule", "done_by")[
                :log_entries
            ]
        ),
        failure=failure_rates().get(printer.pk),
    )
