"""The full plan: every queued copy on a compatible printer, with a planned start and end.

See `engine.py` for the dispatch rule and `bound.py` for the lower bound it is measured by.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Mapping, Sequence

from farm.scheduling.engine import Engine
from farm.scheduling.fast import is_simple, plan_fast
from farm.scheduling.shifts import plan_shifts
from farm.scheduling.site_bound import (
    RuleBound,
    _Plates,
    changes_bound,
    plates,
    site_rule_bound,
    state_work,
)
from farm.scheduling.types import (
    Assignment,
    Plan,
    PlanOptions,
    PrinterSlot,
    SiteRules,
    WorkItem,
)


def plan(
    printers: list[PrinterSlot],
    work: list[WorkItem],
    *,
    now: float,
    sites: Mapping[str, SiteRules] | None = None,
    options: PlanOptions | None = None,
    previous: Sequence[Assignment] = (),
) -> Plan:
    """Plan all `work` on `printers` from `now`. Sites without rules impose none.

    When no site rule couples printers (no staffed hours, operator change time, heat-up
    limit or site downtime), the class-by-class plan in `fast.py` is used; otherwise the
    night-aware plan of `shifts.py` runs on a simulated clock over the whole farm.

    With `previous` (the last plan's runs not yet started), the runs it promised are kept on
    their printers, in their order, and only new work is placed around them (`replan.py`),
    unless a fresh plan ends sooner by more than `PlanOptions.replan_gain` of the horizon: so
    a pass does not move work, filament requests and quotes between printers for nothing.
    When the last plan holds exactly the work waiting now, no fresh plan is made.
    """
    # A plan allocates ~100k small objects that all live until it returns: the cyclic
    # collector would walk them over and over for nothing (10-20% of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        engine = Engine(printers, work, now=now, sites=sites, options=options)
        runs = plates(engine)  # before planning: a plan consumes the engine's copies
        ruled = any(r != SiteRules() for r in engine.rules.values())
        bound = site_rule_bound(engine, runs) if ruled else None
        if not previous:
            return _finish(_fresh(engine), engine, runs, bound)
        kept_engine = engine.fork()
        pinned, promised_end = pins(kept_engine, previous)
        unchanged = _unchanged(kept_engine, pinned, len(previous))
        kept = _finish(plan_shifts(kept_engine, pinned, promised_end), kept_engine, runs, bound)
        if unchanged:
            # Nothing to place and nothing gone: the last plan was kept against a fresh plan
            # of this very work when it was made (or was one), so one more is not needed.
            kept.kept_previous = True
            return kept
        fresh = _finish(_fresh(engine), engine, runs, bound)
        gain = (options or PlanOptions()).replan_gain
        fresh_end, kept_end = _end(fresh, now), _end(kept, now)
        if kept_end - now <= (fresh_end - now) * (1.0 + gain) or _late_for_dues(fresh, kept, work):
            kept.kept_previous = True
            return kept
        return fresh
    finally:
        if collecting:
            gc.enable()


def _unchanged(
    engine: Engine, pinned: Mapping[int, list[tuple[int, int, float]]], runs: int
) -> bool:
    """Does the last plan hold exactly the work waiting now, on every printer there is: no
    copy to place, no run dropped, no printer without runs (one just added, say)?"""
    if len(pinned) != len(engine.printers) or sum(map(len, pinned.values())) != runs:
        return False
    held = [0] * len(engine.work)
    for runs_of in pinned.values():
        for j, copies, _ in runs_of:
            held[j] += copies
    return held == engine.remaining


def _late_for_dues(fresh: Plan, kept: Plan, work: Sequence[WorkItem]) -> bool:
    """Does the fresh plan end a job after its due date that the kept plan meets?

    A job's due date is its promise once it has one (`promises.due_with`): a fresh plan that
    ends the farm sooner by reshuffling it breaks promises the kept plan keeps, and the farm
    is judged by those (on the company farm's twin driving the farm's services, the 20 fresh
    plans of 14 days broke about one promise in twenty)."""
    dues = {w.job_id: w.due for w in work if w.due is not None}
    if not dues:
        return False
    kept_ends, fresh_ends = _job_ends(kept, dues), _job_ends(fresh, dues)
    return any(
        kept_ends.get(j, math.inf) <= due < fresh_ends.get(j, math.inf) for j, due in dues.items()
    )


def _job_ends(result: Plan, jobs: Mapping[int, object]) -> dict[int, float]:
    ends: dict[int, float] = {}
    for a in result.assignments:
        if a.job_id in jobs and a.end > ends.get(a.job_id, -math.inf):
            ends[a.job_id] = a.end
    return ends


def _end(result: Plan, now: float) -> float:
    return max((a.end for a in result.assignments), default=now)


def _fresh(engine: Engine) -> Plan:
    return plan_fast(engine) if is_simple(engine) else plan_shifts(engine)


def _finish(result: Plan, engine: Engine, runs: _Plates, bound: RuleBound | None) -> Plan:
    """The plan with its bounds: the flow bound, the site-rule bound, the changes bound."""
    result.plain_bound = engine.lower_bound
    if bound is not None:
        result.lower_bound = bound.makespan
    ends = [a.end for a in result.assignments]
    result.changes_bound = changes_bound(engine, max(ends), state_work(runs)) if ends else 0
    return result


def pins(
    engine: Engine, previous: Sequence[Assignment]
) -> tuple[dict[int, list[tuple[int, int, float]]], dict[int, float]]:
    """The previous plan's runs per printer position, as (job position, copies, start), in order,
    and when the last of them ended; runs on printers or of jobs no longer there, or no
    longer compatible, are dropped."""
    job_pos = {w.job_id: j for j, w in enumerate(engine.work)}
    eligible = engine.index.eligible
    out: dict[int, list[tuple[int, int, float]]] = {}
    ends: dict[int, float] = {}
    for a in sorted(previous, key=lambda a: a.start):
        i, j = engine.pos_of.get(a.printer_id), job_pos.get(a.job_id)
        if i is None or j is None or not eligible[j, engine.class_of[i]]:
            continue
        out.setdefault(i, []).append((j, a.copies, a.start))
        ends[i] = max(ends.get(i, a.end), a.end)
    return out, ends


def quote(
    printers: list[PrinterSlot],
    work: list[WorkItem],
    new: WorkItem,
    *,
    now: float,
    sites: Mapping[str, SiteRules] | None = None,
    options: PlanOptions | None = None,
) -> tuple[float | None, str]:
    """When `new` would be done if submitted now, before anyone confirms it.

    Plans the farm with it included, exactly as the next pass would (so the promise is the
    plan, not a guess). Returns (planned completion, "") or (None, why it cannot print).
    """
    result = plan(printers, [*work, new], now=now, sites=sites, options=options)
    if new.job_id in result.unplaceable:
        return None, result.unplaceable[new.job_id]
    ends = [a.end for a in result.assignments if a.job_id == new.job_id]
    return (max(ends) if ends else None), ""
