"""How good a plan is: makespan against the lower bound, tardiness, due dates met."""

from __future__ import annotations

from dataclasses import dataclass

from farm.scheduling.types import Assignment, Plan, PrinterSlot, WorkItem, incompatibility


def weight(priority: int) -> float:
    """Tardiness weight: each priority step doubles it (low 1, normal 2, high 4, rush 8)."""
    return float(2 ** (max(-1, min(priority, 5)) + 1))


@dataclass(frozen=True)
class Quality:
    makespan_hours: float  # from now to the end of the last planned run
    lower_bound_hours: float
    gap: float  # (makespan - bound) / bound
    weighted_tardiness_hours: float  # sum over jobs of weight x hours late
    jobs_with_due: int
    due_met_share: float  # of jobs with a due date, the share planned to finish by it
    copies_planned: int
    runs: int
    material_changes: int
    unplaceable_jobs: int


def assess(plan: Plan, work: list[WorkItem], *, now: float) -> Quality:
    done = plan.completion()
    makespan = max((end - now for end in done.values()), default=0.0)
    bound = (plan.lower_bound - now) if plan.lower_bound is not None else 0.0
    tardiness = 0.0
    with_due = met = 0
    for w in work:
        if w.due is None or w.job_id not in done:
            continue
        with_due += 1
        late = done[w.job_id] - w.due
        if late <= 0:
            met += 1
        else:
            tardiness += weight(w.priority) * late / 3600.0
    return Quality(
        makespan_hours=makespan / 3600.0,
        lower_bound_hours=bound / 3600.0,
        gap=(makespan - bound) / bound if bound > 0 else 0.0,
        weighted_tardiness_hours=tardiness,
        jobs_with_due=with_due,
        due_met_share=met / with_due if with_due else 1.0,
        copies_planned=sum(a.copies for a in plan.assignments),
        runs=len(plan.assignments),
        material_changes=sum(1 for a in plan.assignments if a.material_change),
        unplaceable_jobs=len(plan.unplaceable),
    )


def violations(
    plan: Plan, printers: list[PrinterSlot], work: list[WorkItem], *, now: float
) -> list[str]:
    """Everything wrong with a plan, checked independently of how it was made."""
    by_id = {p.id: p for p in printers}
    jobs = {w.job_id: w for w in work}
    problems: list[str] = []
    planned: dict[int, int] = {}
    runs: dict[int, list[Assignment]] = {}
    for a in plan.assignments:
        p, w = by_id.get(a.printer_id), jobs.get(a.job_id)
        if p is None or w is None:
            problems.append(f"unknown printer or job in {a}")
            continue
        reason = incompatibility(p, w)
        if reason:
            problems.append(f"job {w.job_id} on printer {p.id}: {reason}")
        if a.start < max(p.free_at, now) - 1e-6:
            problems.append(f"job {w.job_id} starts on printer {p.id} before it is free")
        if a.end < a.start:
            problems.append(f"job {w.job_id} ends before it starts")
        planned[w.job_id] = planned.get(w.job_id, 0) + a.copies
        runs.setdefault(p.id, []).append(a)
    for pid, mine in runs.items():
        mine.sort(key=lambda a: a.start)
        for x, y in zip(mine, mine[1:], strict=False):
            if y.start < x.end - 1e-6:
                problems.append(f"printer {pid}: jobs {x.job_id} and {y.job_id} overlap")
    for w in work:
        if w.job_id in plan.unplaceable:
            continue
        if w.copies > 0 and w.seconds_per_copy > 0 and planned.get(w.job_id, 0) != w.copies:
            problems.append(f"job {w.job_id}: {planned.get(w.job_id, 0)} of {w.copies} planned")
    return problems
