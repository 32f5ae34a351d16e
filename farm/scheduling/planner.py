"""The full plan: every queued copy on a compatible printer, with a planned start and end.

See `engine.py` for the dispatch rule and `bound.py` for the lower bound it is measured by.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping

from farm.scheduling.engine import Engine
from farm.scheduling.fast import is_simple, plan_fast
from farm.scheduling.shifts import plan_shifts
from farm.scheduling.site_bound import changes_bound, plates, site_rule_bound, state_work
from farm.scheduling.types import Plan, PlanOptions, PrinterSlot, SiteRules, WorkItem


def plan(
    printers: list[PrinterSlot],
    work: list[WorkItem],
    *,
    now: float,
    sites: Mapping[str, SiteRules] | None = None,
    options: PlanOptions | None = None,
) -> Plan:
    """Plan all `work` on `printers` from `now`. Sites without rules impose none.

    When no site rule couples printers (no staffed hours, operator change time, heat-up
    limit or site downtime), the class-by-class plan in `fast.py` is used; otherwise the
    night-aware plan of `shifts.py` runs on a simulated clock over the whole farm.
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
        result = plan_fast(engine) if is_simple(engine) else plan_shifts(engine)
        result.plain_bound = engine.lower_bound
        if bound is not None:
            result.lower_bound = bound.makespan
        ends = [a.end for a in result.assignments]
        result.changes_bound = changes_bound(engine, max(ends), state_work(runs)) if ends else 0
        return result
    finally:
        if collecting:
            gc.enable()


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
