"""Promised completions: made from the plan with a learned margin, held, moved only with a
reason. The rules are `farm.scheduling.promises` (plain Python, shared with the twin).

- A quote (`quote_promise`, for a job awaiting its owner's confirmation) is the plan's end
  plus the margin, so confirming keeps exactly what was shown: `job_confirm` records it.
- A job that needs no confirmation is promised by the first pass that plans it.
- The places where the farm changes (a run failed, printers out of service, a site down)
  call `farm.services.promise_disruptions`; the next pass (`promises_pass`) applies the hold rule to the
  jobs they touched: the promise moves only if the plan now ends after it, with the reason.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from farm.models import Job, Printer, PrintRun, PromiseChange, Site
from farm.scheduling import Plan, plan
from farm.scheduling.promises import (
    ClearingRules,
    History,
    Promise,
    RunRecord,
    chains_for,
    confidence_sentence,
    history_from,
    hold,
    promise_for,
)
from farm.scheduling.types import WorkItem
from farm.services.learning import plan_model
from farm.services.plan_inputs import PlanInputs, from_timestamp, to_timestamp
from farm.services.promise_disruptions import PROMISED
from farm.services.rows_insert import rows_insert
from farm.statuses import RUN_PRINTED, RunStatus

HISTORY_RUNS = 5000  # the newest runs the margins are learned from
FIRST_PROMISE = "first promise"
PROMISE_FIELDS = ["promised_end", "promise_confidence", "promise_runs"]
PROMISE_BATCH = 1000  # jobs per UPDATE: a farm's first pass promises every job at once


# -- the history ------------------------------------------------------------------------------


def promise_history(*, printers: dict[int, Printer] | None = None) -> History:
    """The farm's newest runs that printed to the end or failed, as the promise rules read
    them: what the plan gave each run and what it took, by printer model."""
    runs = (
        PrintRun.objects.filter(status__in=(*RUN_PRINTED, RunStatus.FAILED))
        .exclude(started_at=None)
        .exclude(ended_at=None)
        .order_by("-ended_at")
        .values_list(
            "printer_id", "status", "planned_start", "planned_end", "started_at", "ended_at"
        )
    )[:HISTORY_RUNS]
    rows = list(runs)
    known = printers if printers is not None else {}
    missing = {r[0] for r in rows} - known.keys()
    models = {pk: plan_model(p) for pk, p in known.items()}
    models.update({p.pk: plan_model(p) for p in Printer.objects.filter(pk__in=missing)})
    records = []
    for printer_id, status, p_start, p_end, started, ended in reversed(rows):
        if started is None or ended is None:
            continue  # excluded by the query; typed as optional
        planned = (p_end - p_start).total_seconds()
        if planned <= 0:
            continue
        failed = status == RunStatus.FAILED
        actual = None if failed else (ended - started).total_seconds()
        records.append(RunRecord(models.get(printer_id, ""), planned, actual, failed))
    return history_from(records)


# -- quotes ----------------------------------------------------------------------------------


def quote_promise(
    inputs: PlanInputs, new: WorkItem, history: History
) -> tuple[float | None, str, Promise | None]:
    """When `new` would be done if confirmed now: the plan's end (the farm planned with it,
    as the next pass would) and the promise with its margin. (None, why, None) when it
    cannot print."""
    now = to_timestamp(inputs.now)
    result: Plan = plan(
        inputs.slots, [*inputs.items, new], now=now, sites=inputs.sites, options=inputs.options
    )
    if new.job_id in result.unplaceable:
        return None, result.unplaceable[new.job_id], None
    ends = [a.end for a in result.assignments if a.job_id == new.job_id]
    if not ends:
        return None, "", None
    slots = {s.id: s for s in inputs.slots}
    chains = chains_for(
        {new.job_id}, result.assignments, slots, now, ClearingRules.of(inputs.sites)
    )
    return max(ends), "", promise_for(max(ends), chains.get(new.job_id, []), history)


def quote_record(*, job_id: int, end: float | None, why: str, promise: Promise | None) -> None:
    """Save a quote: the plan's end, the promise offered and when it was made."""
    Job.objects.filter(pk=job_id).update(
        planned_end=from_timestamp(end) if end is not None else None,
        plan_note=why[:200],
        promised_end=from_timestamp(promise.end) if promise is not None else None,
        promise_confidence=promise.confidence if promise is not None else None,
        promise_runs=promise.runs if promise is not None else 0,
        quoted_at=timezone.now(),
    )


# -- the pass ------------------------------------------------------------------------------------


def promises_pass(result: Plan, inputs: PlanInputs) -> int:
    """Promise the confirmed jobs not yet promised, and apply the hold rule to those a change
    of the farm touched. Returns how many promises were made or moved."""
    now = to_timestamp(inputs.now)
    ends: dict[int, float] = {}
    for a in result.assignments:
        ends[a.job_id] = max(ends.get(a.job_id, a.end), a.end)
    for pk, job in inputs.jobs.items():
        if job.active_ends:
            ends[pk] = max(ends.get(pk, now), *job.active_ends)
    # Few rows once the farm runs (new jobs, disrupted ones), every job on a first pass: read
    # by condition, not by a list of ids (SQLite takes at most 32,766 parameters).
    looked_at = _to_look_at(inputs.now).values(
        "pk", "promised_end", "promise_disruption", "promise_disrupted_at"
    )
    rows = [r for r in looked_at if r["pk"] in ends]
    if not rows:
        return 0
    history = promise_history(printers=inputs.printers)
    slots = {s.id: s for s in inputs.slots}
    wanted = {r["pk"] for r in rows}
    chains = chains_for(wanted, result.assignments, slots, now, ClearingRules.of(inputs.sites))
    promised: list[Job] = []
    changes: list[dict[str, Any]] = []
    applied: list[int] = []
    for r in rows:
        pk, end = r["pk"], ends[r["pk"]]
        renewed = promise_for(end, chains.get(pk, []), history)
        if r["promised_end"] is None:
            reason, p = FIRST_PROMISE, renewed
        else:
            applied.append(pk)  # moved or kept: the plan now reflects the change
            decision = hold(
                promised=to_timestamp(r["promised_end"]),
                planned_end=end,
                renewed=renewed.end,
                disruption=r["promise_disruption"],
            )
            if not decision.moved:
                continue
            reason, p = (
                decision.reason,
                Promise(decision.end, end, renewed.confidence, renewed.runs),
            )
        new = from_timestamp(p.end)
        promised.append(
            Job(pk=pk, promised_end=new, promise_confidence=p.confidence, promise_runs=p.runs)
        )
        changes.append(
            {"job_id": pk, "at": inputs.now, "old": r["promised_end"], "new": new, "reason": reason}
        )
    with transaction.atomic():
        Job.objects.bulk_update(promised, PROMISE_FIELDS, batch_size=PROMISE_BATCH)
        rows_insert(PromiseChange, changes)
        # A change recorded after this pass read the farm waits for the next pass.
        Job.objects.filter(pk__in=applied, promise_disrupted_at__lte=inputs.now).update(
            promise_disruption="", promise_disrupted_at=None
        )
    return len(changes)


def _to_look_at(now: datetime.datetime) -> QuerySet[Job]:
    return Job.objects.filter(status__in=PROMISED).filter(
        Q(promised_end=None) | Q(promise_disrupted_at__lte=now)
    )


# -- what the job page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class PromiseShown:
    at: datetime.datetime
    old: datetime.datetime | None
    new: datetime.datetime
    reason: str


@dataclass(frozen=True)
class PromiseSummary:
    """A job's promise for its page, its times in `zone` (the site's, named on the page)."""

    end: datetime.datetime | None
    confidence: str
    zone: str
    changes: list[PromiseShown]


def promise_summary(job: Job) -> PromiseSummary:
    """The promise, its confidence sentence and every change, in the job's site's time zone:
    the site it must print at, else where it is needed, else where its newest run is, else
    the farm's."""
    zone = zoneinfo.ZoneInfo(_zone_name(job))

    def local(t: datetime.datetime | None) -> datetime.datetime | None:
        return t.astimezone(zone) if t is not None else None

    changes = [
        PromiseShown(local(c.at) or c.at, local(c.old), local(c.new) or c.new, c.reason)
        for c in job.promise_changes.all()
    ]
    confidence = ""
    if job.promised_end is not None and job.promise_confidence is not None:
        confidence = confidence_sentence(job.promise_confidence, job.promise_runs)
    return PromiseSummary(local(job.promised_end), confidence, zone.key, changes)


def _zone_name(job: Job) -> str:
    for site_id in (job.site_id, job.needed_at_id):
        if site_id is not None:
            return (
                Site.objects.filter(pk=site_id).values_list("timezone", flat=True).first() or "UTC"
            )
    newest = job.runs.order_by("-created_at").values_list("printer__site__timezone", flat=True)
    return newest.first() or settings.TIME_ZONE
