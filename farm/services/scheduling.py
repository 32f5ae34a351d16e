"""The scheduling pass: plan every queued copy, publish completion times, start what can start.

The algorithm is `farm.scheduling.plan` (plain Python); `farm.services.plan_inputs` reads its
inputs (printers, work, each site's rules, learned print times) in a few set-based queries, and
this module turns its plan back into planned times (written in batches, only where they moved),
quotes for jobs awaiting confirmation, filament-change requests and runs (started in batches).
"""

from __future__ import annotations

import datetime
import json
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from farm.models import Event, Job, Printer
from farm.models.event import EventKind
from farm.scheduling import (
    Assignment,
    Plan,
    plan,
)
from farm.scheduling.types import SiteRules, incompatibility
from farm.services.plan_inputs import (
    PlanInputs,
    PlannedJob,
    from_timestamp,
    job_values,
    model_seconds_of,
    plan_inputs,
    to_timestamp,
    work_item,
)
from farm.services.plan_store import previous_plan_store
from farm.services.promises import promise_history, promises_pass, quote_promise, quote_record
from farm.services.runs import RunRequest, runs_create
from farm.services.stock_plan import out_of_stock_notify
from farm.statuses import JobStatus

log = logging.getLogger(__name__)

MAX_QUOTES_PER_PASS = 20  # each quote is one more full plan
# A planned time that moved less than this is not written again: with free printers every
# plan shifts by the seconds between two passes, and 40,000 jobs would be rewritten each time.
PUBLISH_TOLERANCE = datetime.timedelta(seconds=60)
PUBLISH_TOLERANCE_SECONDS = PUBLISH_TOLERANCE.total_seconds()
PUBLISH_BATCH = 5000  # jobs per UPDATE statement


class StartOutcome(StrEnum):
    """What acting on a printer's next planned run did."""

    STARTED = "started"
    FILAMENT = "filament"  # an operator was asked to load the filament first
    NOT_STARTED = "not_started"  # nothing due, or another process got there first


def is_due_now(
    a: Assignment, now: float, rules: SiteRules | None = None, horizon: float = 0.0
) -> bool:
    """Start a planned run when it is due within a second, or within the filament change
    the plan puts before it (the operator's change is part of the wait), or within one
    heat-up step of its site (`rules`), or before the next pass comes (`horizon` seconds
    from now: the run is then claimed now and its dispatch held until its planned start,
    `RunRequest.planned_start`).

    A site with a heat-up limit has its starts snapped up to a grid of heat_seconds /
    max_heating (`farm.scheduling.calendar.Stagger`), so the plan's first start there is up
    to one step after now: the site's next heat-up, not a later one. With a second only, a
    site allowing 100 printers per 5 minutes (a 3 s step) started a run only when a pass fell
    within a second of a grid point: the Monday twin through the farm's services started no
    run in 1.5 days. The second start is more than a step away, so the limit still holds.
    With one step only, a pass started one run per heat-limited site, however many the plan
    put before the next pass: the Monday twin (a pass every 30 simulated minutes) started 4
    runs a pass where the plan had 2,330 free printers' first runs due before the next one.
    Held until their planned starts, those runs keep the plan's stagger."""
    change = settings.FARM_MATERIAL_CHANGE_SECONDS if a.material_change else 0.0
    return a.start <= now + max(1.0, heat_step(rules), horizon) + change


def heat_step(rules: SiteRules | None) -> float:
    """The spacing of a site's planned starts under its heat-up limit (0: no limit)."""
    if rules is None or rules.max_heating <= 0 or rules.heat_seconds <= 0:
        return 0.0
    return rules.heat_seconds / rules.max_heating


@dataclass(frozen=True)
class PassResult:
    planned_jobs: int
    runs_started: int
    unplaceable: dict[int, str]
    filament_requests: int = 0
    times_published: int = 0  # jobs whose planned times were written
    kept_previous: bool = False  # the last pass's plan was kept (see `plan`)


def schedule_pass() -> PassResult:
    """Plan the whole farm, save every job's planned times, and start runs due now."""
    inputs = plan_inputs()
    # The last pass's plan, kept unless a fresh one is clearly better (`plan`): without it
    # every pass reshuffles the farm (free printers are free a little later each time), and
    # planned times, filament requests and quotes move for nothing.
    result: Plan = plan(
        inputs.slots,
        inputs.items,
        now=to_timestamp(inputs.now),
        sites=inputs.sites,
        options=inputs.options,
        previous=inputs.previous,
    )
    published = _publish_times(result, inputs.jobs, inputs.now, inputs.stock_notes)
    out_of_stock_notify(inputs.stock_notes)  # once a day per filament jobs wait for
    promises_pass(result, inputs)  # new promises; moved only where the farm changed
    _quote_waiting_jobs(inputs)
    # Until the next periodic pass (the beat): the runs due before it are started now and
    # dispatched at their planned starts, so the farm keeps the plan's pace between passes.
    horizon = float(settings.FARM_SCHEDULE_SECONDS)
    started, requests, acted, moved = _start_due_runs(result, inputs, horizon)
    previous_plan_store(
        [
            replace(a, printer_id=moved[a.printer_id]) if a.printer_id in moved else a
            for a in result.assignments
            if id(a) not in acted
        ]
    )
    return PassResult(
        len(inputs.jobs),
        started,
        dict(result.unplaceable),
        requests,
        published,
        kept_previous=result.kept_previous,
    )


def _moved(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return old is not new
    return abs(old - new) >= PUBLISH_TOLERANCE_SECONDS


def _publish_times(
    result: Plan,
    jobs: dict[int, PlannedJob],
    now: datetime.datetime,
    stock_notes: dict[int, str] | None = None,
) -> int:
    """Write each job's planned start and end, and why nothing could be planned (or why it
    was left out of the plan: `stock_notes`), where they changed (by PUBLISH_TOLERANCE or
    more): compared in memory as POSIX seconds, so only the jobs that moved are written.
    Returns how many."""
    spans: dict[int, tuple[float, float]] = {}
    for a in result.assignments:
        span = spans.get(a.job_id)
        if span is None:
            spans[a.job_id] = (a.start, a.end)
        else:
            spans[a.job_id] = (min(span[0], a.start), max(span[1], a.end))
    now_s = to_timestamp(now)
    changed: list[tuple[int, float | None, float | None, str]] = []
    unplaceable = result.unplaceable
    for job_id, job in jobs.items():
        span = spans.get(job_id)
        start = end = None
        if span is not None or job.active_ends:
            times = [*(span or ()), *job.active_ends]
            start, end = min(times), max(*times, now_s)
        note = unplaceable.get(job_id, "")[:200] if unplaceable else ""
        if stock_notes and job_id in stock_notes:
            note = stock_notes[job_id]
        if (
            _moved(job.planned_start, start)
            or _moved(job.planned_end, end)
            or job.plan_note != note
        ):
            changed.append((job_id, start, end, note))
    _write_times(changed)
    return len(changed)


def _write_times(rows: list[tuple[int, float | None, float | None, str]]) -> None:
    """Set (id, planned_start, planned_end, plan_note) on many jobs, the times as POSIX
    seconds: one UPDATE per PUBLISH_BATCH jobs, joined to the new values sent as one JSON
    parameter. (Django's bulk_update builds a CASE per row and field, and a parameter per
    value is quoted one by one: 11 s and 5 s for the 40,000 jobs of a farm's queue, on this
    machine.) PostgreSQL turns the seconds into timestamps itself."""
    q = connection.ops.quote_name
    table, pk = q(Job._meta.db_table), q("id")
    start, end, note = q("planned_start"), q("planned_end"), q("plan_note")
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        sql = (
            f"UPDATE {table} AS j SET {start} = to_timestamp(v.s), {end} = to_timestamp(v.e), "
            f"{note} = v.n FROM json_to_recordset(%s::json) AS v(id bigint, s float8, e float8, "
            f"n text) WHERE j.{pk} = v.id"
        )
    else:  # SQLite keeps datetimes as text, as connection.ops adapts them
        sql = (
            f"UPDATE {table} SET {start} = json_extract(v.value, '$.s'), "
            f"{end} = json_extract(v.value, '$.e'), {note} = json_extract(v.value, '$.n') "
            f"FROM json_each(%s) AS v WHERE {table}.{pk} = json_extract(v.value, '$.id')"
        )

    def stamp(seconds: float | None) -> float | str | None:
        if seconds is None or postgresql:
            return seconds
        return str(connection.ops.adapt_datetimefield_value(from_timestamp(seconds)))

    with transaction.atomic(), connection.cursor() as cursor:
        for first in range(0, len(rows), PUBLISH_BATCH):
            values = [
                {"id": pk_, "s": stamp(s), "e": stamp(e), "n": n}
                for pk_, s, e, n in rows[first : first + PUBLISH_BATCH]
            ]
            cursor.execute(sql, [json.dumps(values)])


def _quote_waiting_jobs(inputs: PlanInputs) -> None:
    """Jobs waiting for their owner's confirmation get the completion time they would get,
    with the promise's margin (`quote_promise`): never quoted first, then the least recently
    quoted, so more waiting jobs than a pass quotes are all quoted in turn."""
    waiting = list(
        job_values(
            # A held one (by an operator, or waiting for approval) is quoted once released.
            Job.objects.filter(status=JobStatus.QUOTED, held=False)
            .exclude(seconds_per_copy=None)
            .order_by(F("quoted_at").asc(nulls_first=True), "submitted_at")
        )[:MAX_QUOTES_PER_PASS]
    )
    if not waiting:
        return
    model_seconds = model_seconds_of(inputs.corrections, inputs.scales)
    history = promise_history(printers=inputs.printers)
    for job in waiting:
        end, why, promise = quote_promise(
            inputs, work_item(job, job["quantity"], model_seconds), history
        )
        quote_record(job_id=job["id"], end=end, why=why, promise=promise)


def _start_due_runs(
    result: Plan, inputs: PlanInputs, horizon: float = 0.0
) -> tuple[int, int, set[int], dict[int, int]]:
    """Start each free printer's first planned run when it is due (before `horizon` seconds
    from now, the next pass: see `is_due_now`), or, when the plan swaps
    material on that printer first, ask an operator to load it. The runs start in batches
    (`runs_create`), each batch one transaction with the claims of `run_create`. Returns the
    runs started, the filament requests, the ids of the assignments started, and which
    printer now holds each printer's planned runs (`_handovers`)."""
    first: dict[int, Assignment] = {}
    for planned in sorted(result.assignments, key=lambda x: x.start):
        first.setdefault(planned.printer_id, planned)
    now = to_timestamp(inputs.now)
    requests: list[RunRequest] = []
    sources: list[Assignment] = []  # what each request starts
    asks: dict[int, FilamentAsk] = {}
    taken: set[int] = set()  # printers given a run in this pass (the rows change later)
    filament = 0
    for printer_id, printer in inputs.printers.items():
        if not printer.available or printer_id in taken:
            continue
        a = first.get(printer_id)
        rules = inputs.sites.get(printer.site.slug)
        if a is None or not is_due_now(a, now, rules, horizon):
            asks.setdefault(printer_id, FilamentAsk(printer))
            continue
        request = _start_request(a, inputs, printer, taken, asks, planned=first.keys())
        if request is None:
            filament += 1
        else:
            requests.append(request)
            sources.append(a)
    _filament_requests(asks.values())
    outcome = runs_create(requests)
    started = {(run.job_id, run.printer_id) for run in outcome.runs}
    acted: set[int] = set()
    holders: dict[int, int] = {}
    for r, a in zip(requests, sources, strict=True):
        if (r.job_id, r.printer.pk) in started:
            acted.add(id(a))
            if r.printer.pk != a.printer_id:
                holders[a.printer_id] = r.printer.pk
    if outcome.busy or outcome.nothing_to_print:
        log.info(
            "not started: %d printers taken by another process, %d jobs with nothing waiting",
            len(outcome.busy),
            len(outcome.nothing_to_print),
        )
    return len(outcome.runs), filament, acted, _handovers(holders)


def _handovers(holders: dict[int, int]) -> dict[int, int]:
    """Which printer takes each printer's planned runs after runs started on holders.

    A run planned on printer P after a filament change and started on H, which holds that
    filament (`_holder_of`), takes the rest of P's plan to H: it is planned for that
    filament. H's own plan goes to the printer left with none, the start of the chain
    (P, when H's own first run did not go to a holder in turn), so the next pass keeps
    every plan, on another printer, instead of delaying H's by the run it took.
    """
    out = dict(holders)
    for first in holders.keys() - set(holders.values()):  # the printers left without a plan
        last = first
        while last in holders:
            last = holders[last]
        out[last] = first  # the end of the chain: its plan was displaced
    return out


@dataclass(frozen=True)
class FilamentAsk:
    """What an operator is asked to load on a printer (no material: nothing)."""

    printer: Printer
    material_id: int | None = None
    material: str = ""
    colour: str = ""


def _start_request(
    a: Assignment,
    inputs: PlanInputs,
    printer: Printer,
    taken: set[int],
    asks: dict[int, FilamentAsk],
    planned: Collection[int] = (),
) -> RunRequest | None:
    """The run to start for a printer's next planned run, or None when an operator must load
    its filament first (the request is then in `asks`). `planned`: the printers the plan
    gives runs of their own, which are no holders (`_holder_of`)."""
    job = inputs.jobs[a.job_id]
    if a.material_change:
        holder = _holder_of(a, inputs, taken, planned)
        if holder is None:
            asks[printer.pk] = FilamentAsk(printer, job.material_id, job.material, job.colour)
            return None
        asks[printer.pk] = FilamentAsk(printer)
        printer = holder
    asks[printer.pk] = FilamentAsk(printer)
    taken.add(printer.pk)
    # A run due later than now (before the next pass, or a heat-up step away) keeps its
    # planned start: its dispatch is held until then (`send_run_dispatches`), so the site's
    # heat-ups follow the plan's stagger however early the pass claimed the printer.
    start = max(inputs.now, from_timestamp(a.start))
    return RunRequest(
        job_id=job.pk,
        printer=printer,
        copies=a.copies,
        planned_start=start,
        planned_end=start + datetime.timedelta(seconds=a.end - a.start),
    )


def _holder_of(
    a: Assignment, inputs: PlanInputs, taken: set[int], planned: Collection[int] = ()
) -> Printer | None:
    """A free printer that already holds the material a planned change is for, if any.

    The plan decides printer by printer, so a printer can be given a job with a filament
    change while another printer holding that filament stands idle; starting it there saves
    an operator's change and the time it takes. Only a printer the plan leaves idle
    (`planned`: the printers with runs of their own): one with runs planned would start
    them late, or hand them to a printer that must first change filament, and the jobs
    promised on them break their promises (on the company farm's twin, 208 such starts moved
    half the jobs off the printers their promise was made on; 79 % of promises were kept).
    """
    work = inputs.work.get(a.job_id)
    if work is None:
        return None
    # Free printers holding the material (and colour, when the job names one), first slot
    # last: the taken ones are dropped from the end, so a pass never looks at them again.
    candidates = inputs.holders.get((work.material, work.colour.lower() or None), [])
    while candidates and (
        candidates[-1].id in taken or not inputs.printers[candidates[-1].id].available
    ):
        candidates.pop()
    for slot in reversed(candidates):
        printer = inputs.printers[slot.id]
        if (
            slot.id != a.printer_id
            and slot.id not in taken
            and slot.id not in planned
            and printer.available
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
        current = (ask.printer.requested_material_id, ask.printer.requested_colour)
        if current != (ask.material_id, ask.colour):
            changed[(ask.material_id, ask.colour)].append(ask)
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
                if ask.material_id is not None:
                    message = f"load {ask.material} {colour}".strip()
                    events.append(
                        Event(
                            kind=EventKind.PRINTER_FILAMENT_REQUESTED,
                            printer=ask.printer,
                            message=message,
                        )
                    )
        Event.objects.bulk_create(events)
