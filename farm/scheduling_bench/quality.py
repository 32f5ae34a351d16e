"""How good a plan is: makespan against the lower bound, tardiness, due dates met."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from farm.scheduling.calendar import Staffing
from farm.scheduling.types import (
    Assignment,
    Plan,
    PrinterSlot,
    SiteRules,
    WorkItem,
    incompatibility,
    needs_change,
)


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


def rule_violations(
    plan: Plan,
    printers: list[PrinterSlot],
    work: list[WorkItem],
    sites: Mapping[str, SiteRules],
    *,
    now: float,
) -> list[str]:
    """Every break of a site rule in a plan, checked from the runs alone.

    A finished bed is cleared by a person (someone on the floor, then the clearing time)
    before the next run starts; a filament change is made while someone is there and takes
    the change time; a change is flagged wherever the material or an asked-for colour
    differs from what the printer holds; no more than `max_heating` printers of a site start
    within any heat-up time.
    """
    by_id = {p.id: p for p in printers}
    jobs = {w.job_id: w for w in work}
    default = SiteRules()
    staffing = {s: Staffing(sites.get(s, default)) for s in {p.site for p in printers}}
    problems: list[str] = []
    runs: dict[int, list[Assignment]] = {}
    for a in plan.assignments:
        if a.printer_id in by_id and a.job_id in jobs:
            runs.setdefault(a.printer_id, []).append(a)
    starts: dict[str, list[float]] = {}
    for pid, mine in runs.items():
        p = by_id[pid]
        rules = sites.get(p.site, default)
        staff = staffing[p.site]
        mine.sort(key=lambda a: a.start)
        ready = max(p.free_at, now)
        if p.needs_clearing and not p.auto_eject:
            ready = staff.next_staffed(ready) + rules.clear_seconds
        material, colour = p.material, p.colour.lower()
        for a in mine:
            w = jobs[a.job_id]
            change = needs_change(material, colour, w)
            if change and not a.material_change:
                problems.append(f"printer {pid}: job {w.job_id} needs a change not planned")
            if a.material_change:
                ready = staff.next_staffed(ready) + rules.change_seconds
                material = w.material
                colour = w.colour.lower() or colour
            if a.start < ready - 1e-6:
                problems.append(f"printer {pid}: job {w.job_id} starts before its bed is ready")
            ready = a.end
            if not p.auto_eject:
                ready = staff.next_staffed(a.end) + rules.clear_seconds
            starts.setdefault(p.site, []).append(a.start)
    for site, times in starts.items():
        rules = sites.get(site, default)
        if rules.max_heating <= 0 or rules.heat_seconds <= 0:
            continue
        times.sort()
        limit = rules.max_heating
        for i in range(len(times) - limit):
            if times[i + limit] - times[i] < rules.heat_seconds - 1e-6:
                problems.append(f"site {site}: more than {limit} heating at {times[i + limit]}")
                break
    return problems


def idle_hours(
    plan: Plan, printers: list[PrinterSlot], sites: Mapping[str, SiteRules], *, now: float
) -> dict[str, float]:
    """Where a plan leaves printers idle, in hours per printer: between a printer's free time
    and its last run's end, with people there (`staffed`) or not (`unstaffed`), and from
    its last run's end to the plan's (`after_last_run`).

    This says where a gap to the bound comes from: the site-rule bound lets the longest
    plates cover every night, so unstaffed idle is what the plan's nights cost beyond it.
    """
    runs: dict[int, list[Assignment]] = {}
    for a in plan.assignments:
        runs.setdefault(a.printer_id, []).append(a)
    default = SiteRules()
    staffing = {s: Staffing(sites.get(s, default)) for s in {p.site for p in printers}}
    makespan = max((a.end for a in plan.assignments), default=now)
    staffed = unstaffed = after = 0.0
    for p in printers:
        staff = staffing[p.site]
        t = max(now, p.free_at)
        for a in sorted(runs.get(p.id, ()), key=lambda a: a.start):
            while t < a.start:  # split the wait at the shift's edges
                if staff.next_staffed(t) <= t:
                    edge = min(staff.shift_end(t), a.start)
                    staffed += edge - t
                else:
                    edge = min(staff.next_staffed(t), a.start)
                    unstaffed += edge - t
                t = edge
            t = max(t, a.end)
        after += max(0.0, makespan - t)
    n = max(1, len(printers)) * 3600.0
    return {
        "staffed": round(staffed / n, 2),
        "unstaffed": round(unstaffed / n, 2),
        "after_last_run": round(after / n, 2),
    }
