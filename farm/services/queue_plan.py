"""The queue as the planner sees it: which printer each waiting job is planned on, and a
timeline per printer for the next hours.

The scheduling pass keeps the runs it planned and has not started in the cache
(`farm.services.plan_store.previous_plan`): the queue shows that plan. When the cache has
none (no pass yet, or the cache was restarted) it plans the farm itself with the pass's inputs
and planner, and keeps that PLAN_SECONDS for every open queue page. Jobs held or closed since
the pass are left out (the next pass, which every change asks for, replans them).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from farm.models import Job, Printer, PrintRun
from farm.scheduling import Assignment, plan
from farm.services.fleet_view import natural_key
from farm.services.plan_inputs import plan_inputs, to_timestamp
from farm.services.plan_store import PREVIOUS_PLAN_KEY, previous_plan
from farm.statuses import JOB_OPEN, RUN_ACTIVE

PLAN_KEY = "queue-plan"
PLAN_SECONDS = 60
HORIZON_HOURS = 24
MAX_LANES = 100  # printers drawn on one timeline; the rest are counted


def queue_plan() -> list[Assignment]:
    """The planned runs of every waiting job: the last pass's, or a fresh plan."""
    if cache.get(PREVIOUS_PLAN_KEY) is not None:
        planned = previous_plan()
    else:
        planned = _fresh_plan()
    # The jobs to leave out are few (held, or closed since the pass); the planned ones can be
    # 40,000: ask for the few, not for the many in one IN (...) list.
    since = timezone.now() - datetime.timedelta(days=1)
    gone = set(
        Job.objects.filter(
            Q(held=True, status__in=JOB_OPEN) | Q(finished_at__gte=since)
        ).values_list("pk", flat=True)
    )
    return [p for p in planned if p.job_id not in gone]


def _fresh_plan() -> list[Assignment]:
    found = cache.get(PLAN_KEY)
    if found is not None:
        return [Assignment(*row) for row in found]
    inputs = plan_inputs()
    result = plan(
        inputs.slots,
        inputs.items,
        now=to_timestamp(inputs.now),
        sites=inputs.sites,
        options=inputs.options,
    )
    rows = [
        (a.job_id, a.printer_id, a.copies, a.start, a.end, a.material_change)
        for a in result.assignments
    ]
    cache.set(PLAN_KEY, rows, PLAN_SECONDS)
    return [Assignment(*row) for row in rows]


def queue_plan_forget() -> None:
    """An operator changed the queue: the next page plans again."""
    cache.delete(PLAN_KEY)


def planned_printers(planned: list[Assignment]) -> dict[int, list[int]]:
    """Job id -> the printers its runs are planned on, first planned first."""
    out: dict[int, list[int]] = defaultdict(list)
    for p in sorted(planned, key=lambda p: p.start):
        if p.printer_id not in out[p.job_id]:
            out[p.job_id].append(p.printer_id)
    return out


@dataclass(frozen=True)
class Bar:
    """A run on a lane, in percent of the horizon (for the SVG's x and width)."""

    job_id: int
    label: str
    x: float
    width: float
    kind: str  # "printing" (a run on the printer now) or "planned"
    change: bool
    start: datetime.datetime
    end: datetime.datetime


@dataclass(frozen=True)
class Lane:
    printer_id: int
    printer: str
    site: str
    bars: list[Bar]


@dataclass(frozen=True)
class Timeline:
    lanes: list[Lane]
    hours: list[tuple[float, datetime.datetime]]  # (x in percent, moment) of each tick
    idle: int  # printers with nothing in the horizon
    not_drawn: int  # printers with work beyond MAX_LANES


def queue_timeline(
    planned: list[Assignment], *, site: str = "", now: datetime.datetime | None = None
) -> Timeline:
    """Each printer's runs (printing now, then planned) over the next HORIZON_HOURS: the
    first MAX_LANES printers with any, in walking order. A farm's 10,000 printers are read as
    plain rows, and bars are made only for the lanes drawn."""
    now = now or timezone.now()
    begin = now.timestamp()
    end_of_view = begin + HORIZON_HOURS * 3600.0
    printers = Printer.objects.filter(enabled=True)
    active = PrintRun.objects.filter(status__in=RUN_ACTIVE, printer__enabled=True)
    if site:
        printers = printers.filter(site__slug=site)
        active = active.filter(printer__site__slug=site)
    by_id = {
        row[0]: row for row in printers.values_list("pk", "name", "row", "position", "site__name")
    }
    spans: dict[int, list[tuple[int, float, float, str, bool]]] = defaultdict(list)
    for pk, job, run_start, run_end in active.values_list(
        "printer_id", "job_id", "planned_start", "planned_end"
    ):
        spans[pk].append((job, run_start.timestamp(), run_end.timestamp(), "printing", False))
    for p in planned:
        if p.printer_id in by_id and p.start < end_of_view:
            spans[p.printer_id].append((p.job_id, p.start, p.end, "planned", p.material_change))
    shown = [
        pk for pk in spans if pk in by_id and any(end > begin for _, _, end, _, _ in spans[pk])
    ]
    shown.sort(key=lambda pk: _lane_order(by_id[pk]))
    drawn = shown[:MAX_LANES]
    job_ids = {job_id for pk in drawn for job_id, *_ in spans[pk]}
    names = dict(Job.objects.filter(pk__in=job_ids).values_list("pk", "name"))
    lanes = [
        Lane(pk, by_id[pk][1], by_id[pk][4], _bars(spans[pk], names, begin, end_of_view))
        for pk in drawn
    ]
    ticks = []
    first = (int(begin // 3600) + 1) * 3600
    for t in range(first, int(end_of_view), 3 * 3600):
        ticks.append((_percent(t, begin, end_of_view), _moment(t)))
    return Timeline(
        lanes=lanes,
        hours=ticks,
        idle=len(by_id) - len(shown),
        not_drawn=len(shown) - len(drawn),
    )


def _bars(
    spans: list[tuple[int, float, float, str, bool]],
    names: dict[int, str],
    begin: float,
    end_of_view: float,
) -> list[Bar]:
    bars = []
    for job_id, start, end, kind, change in sorted(spans, key=lambda s: s[1]):
        left = max(start, begin)
        right = min(max(end, left), end_of_view)
        if right <= begin:
            continue
        bars.append(
            Bar(
                job_id=job_id,
                label=f"#{job_id} {names.get(job_id, '')}",
                x=_percent(left, begin, end_of_view),
                width=max(
                    _percent(right, begin, end_of_view) - _percent(left, begin, end_of_view), 0.2
                ),
                kind=kind,
                change=change,
                start=_moment(start),
                end=_moment(end),
            )
        )
    return bars


def _percent(moment: float, begin: float, end_of_view: float) -> float:
    return round((moment - begin) / (end_of_view - begin) * 100, 3)


def _lane_order(row: tuple[int, str, str, int, str]) -> tuple[object, ...]:
    _, name, place_row, position, site_name = row
    return (natural_key(site_name), natural_key(place_row), position, natural_key(name))


def _moment(stamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC)
