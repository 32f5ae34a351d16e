"""The scheduler benchmark behind `manage.py bench_scheduler`: speed and quality of one plan.

Timing thresholds live here, not in unit tests: numbers depend on the machine and its load.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from farm.scheduling.engine import Engine
from farm.scheduling.planner import plan
from farm.scheduling.types import Plan, PlanOptions, SiteRules, WorkItem
from farm.scheduling_bench.instance import Instance, generate
from farm.scheduling_bench.quality import assess, idle_hours, rule_violations, violations

# Rules of a staffed farm, for `--setups`: two shifts, people clear beds and swap spools,
# and at most 50 printers per site heat up in any five minutes.
STAFFED = SiteRules(
    staffed_hours=((6.0, 22.0),),
    staffed_weekdays=(0, 1, 2, 3, 4, 5),
    clear_seconds=120.0,
    change_seconds=600.0,
    max_heating=50,
    heat_seconds=300.0,
)


def with_setups(instance: Instance) -> Instance:
    sites = {p.site: STAFFED for p in instance.printers}
    return replace(instance, sites=sites)


def reference_seconds() -> float:
    """A fixed pure-Python workload timed in the same run: the machine's speed right now.

    On a shared machine the plan's seconds mean little alone; their ratio to this does.
    (About 0.2 s on an idle core of the machine this was written on.)
    """
    started = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i * i
    return time.perf_counter() - started


def run(
    instance: Instance, *, decisions: int = 2000, check: bool = True, replan: bool = True
) -> tuple[dict[str, Any], Plan]:
    """Plan the whole instance once, then time `decisions` single-printer decisions; with
    `replan`, a second pass with 1 % new work (see `stability`)."""
    reference = reference_seconds()
    started = time.perf_counter()
    result = plan(
        instance.printers,
        instance.jobs,
        now=instance.now,
        sites=instance.sites,
        options=instance.options,
    )
    full_seconds = time.perf_counter() - started
    quality = assess(result, instance.jobs, now=instance.now)
    problems = (
        violations(result, instance.printers, instance.jobs, now=instance.now)
        + rule_violations(
            result, instance.printers, instance.jobs, instance.sites, now=instance.now
        )
        if check
        else []
    )
    plain = (result.plain_bound - instance.now) / 3600.0 if result.plain_bound else 0.0
    changes_bound = result.changes_bound or 0

    started = time.perf_counter()
    engine = Engine(
        instance.printers,
        instance.jobs,
        now=instance.now,
        sites=instance.sites,
        options=instance.options,
    )
    engine.next_for_printer(instance.printers[0].id, at=instance.now) if instance.printers else None
    setup_seconds = time.perf_counter() - started
    timings = _time_decisions(engine, instance, decisions)

    moved = stability(instance, result) if replan else {}
    report: dict[str, Any] = {
        "printers": len(instance.printers),
        "jobs": len(instance.jobs),
        "copies": sum(max(0, w.copies) for w in instance.jobs),
        "full_plan_seconds": round(full_seconds, 3),
        "reference_seconds": round(reference, 3),
        "full_plan_in_references": round(full_seconds / reference, 2),
        "incremental_p50_ms": round(float(np.percentile(timings, 50)), 3) if timings else None,
        "incremental_p99_ms": round(float(np.percentile(timings, 99)), 3) if timings else None,
        "incremental_max_ms": round(max(timings), 3) if timings else None,
        "incremental_decisions": len(timings),
        "incremental_setup_seconds": round(setup_seconds, 3),
        "makespan_hours": round(quality.makespan_hours, 3),
        "lower_bound_hours": round(quality.lower_bound_hours, 3),
        "gap": round(quality.gap, 5),
        # The flow bound without site rules; `lower_bound_hours` adds what the rules cost.
        "plain_bound_hours": round(plain, 3),
        "weighted_tardiness_hours": round(quality.weighted_tardiness_hours, 1),
        "jobs_with_due": quality.jobs_with_due,
        "due_dates_met": round(quality.due_met_share, 4),
        "runs": quality.runs,
        "material_changes": quality.material_changes,
        "changes_bound": changes_bound,
        "changes_over_bound": (
            round(quality.material_changes / changes_bound, 3) if changes_bound else None
        ),
        "unplaceable_jobs": quality.unplaceable_jobs,
        "idle_hours_per_printer": idle_hours(
            result, instance.printers, instance.sites, now=instance.now
        ),
        "site_rules": bool(instance.sites),
        "plan_violations": len(problems),
        **moved,
        "quality": asdict(quality),
    }
    return report, result


def more_work(instance: Instance, share: float = 0.01, *, seed: int = 1) -> list[WorkItem]:
    """`share` more jobs like the instance's, with ids after its last: new orders coming in."""
    count = max(1, round(len(instance.jobs) * share))
    extra = generate(len(instance.printers), count, seed=seed + 10_000, now=instance.now).jobs
    first = max((w.job_id for w in instance.jobs), default=0) + 1
    return [replace(w, job_id=first + n, submitted=instance.now) for n, w in enumerate(extra)]


def moved_share(before: Plan, after: Plan) -> float:
    """Of the runs `before` planned, the share `after` no longer has on the same printer
    with the same copies (new work in `after` does not count)."""
    if not before.assignments:
        return 0.0
    left: dict[tuple[int, int, int], int] = {}
    for a in after.assignments:
        key = (a.job_id, a.printer_id, a.copies)
        left[key] = left.get(key, 0) + 1
    kept = 0
    for a in before.assignments:
        key = (a.job_id, a.printer_id, a.copies)
        if left.get(key, 0) > 0:
            left[key] -= 1
            kept += 1
    return 1.0 - kept / len(before.assignments)


def stability(instance: Instance, first: Plan) -> dict[str, Any]:
    """A second pass with 1 % new work: how much of the first plan it moves, kept or fresh."""
    work = [*instance.jobs, *more_work(instance)]
    args: dict[str, Any] = {"now": instance.now, "sites": instance.sites}
    args["options"] = instance.options
    started = time.perf_counter()
    second = plan(instance.printers, work, previous=first.assignments, **args)
    seconds = time.perf_counter() - started
    fresh = plan(instance.printers, work, **args)
    # The kept plan whatever its gain: what keeping costs, when the fresh plan won.
    args["options"] = replace(instance.options or PlanOptions(), replan_gain=math.inf)
    kept = plan(instance.printers, work, previous=first.assignments, **args)
    end = max((a.end for a in second.assignments), default=instance.now)
    fresh_end = max((a.end for a in fresh.assignments), default=instance.now)
    kept_end = max((a.end for a in kept.assignments), default=instance.now)
    return {
        "replan_seconds": round(seconds, 3),
        "replan_kept_previous": second.kept_previous,
        "replan_moved_share": round(moved_share(first, second), 5),
        "replan_fresh_moved_share": round(moved_share(first, fresh), 5),
        "replan_makespan_hours": round((end - instance.now) / 3600.0, 3),
        "replan_fresh_makespan_hours": round((fresh_end - instance.now) / 3600.0, 3),
        "replan_kept_moved_share": round(moved_share(first, kept), 5),
        "replan_kept_makespan_hours": round((kept_end - instance.now) / 3600.0, 3),
    }


def _time_decisions(engine: Engine, instance: Instance, decisions: int) -> list[float]:
    """Printers become ready in time order; each asks for its next run, as the farm would."""
    ready = [(max(p.free_at, instance.now), p.id) for p in instance.printers]
    heapq.heapify(ready)
    timings: list[float] = []
    while ready and len(timings) < decisions:
        at, pid = heapq.heappop(ready)
        started = time.perf_counter()
        run = engine.next_for_printer(pid, at=at)
        timings.append((time.perf_counter() - started) * 1000.0)
        if run is not None:
            heapq.heappush(ready, (run.end, pid))
    return timings
