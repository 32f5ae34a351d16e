"""The first planner: greedy list scheduling onto the earliest-free compatible printer.

Jobs go in priority order (then due date, then submission); each copy goes to the compatible
printer that can start it first. No material changes are planned: a printer must already hold
the job's material and colour.
"""

from __future__ import annotations

from collections import Counter

from farm.scheduling.types import Assignment, Plan, PrinterSlot, WorkItem, incompatibility


def plan(printers: list[PrinterSlot], work: list[WorkItem], *, now: float) -> Plan:
    result = Plan()
    free_at = {p.id: max(p.free_at, now) for p in printers}
    order = sorted(
        work,
        key=lambda w: (
            -w.priority,
            w.due if w.due is not None else float("inf"),
            w.submitted,
            w.job_id,
        ),
    )
    for item in order:
        eligible = [p for p in printers if incompatibility(p, item) is None]
        if not eligible:
            reasons = Counter(incompatibility(p, item) for p in printers)
            result.unplaceable[item.job_id] = (
                reasons.most_common(1)[0][0] if reasons else "there are no printers"
            ) or ""
            continue
        for _ in range(item.copies):
            printer = min(eligible, key=lambda p: (free_at[p.id], p.id))
            start = free_at[printer.id]
            end = start + item.seconds_per_copy
            free_at[printer.id] = end
            result.assignments.append(Assignment(item.job_id, printer.id, 1, start, end))
    return result
