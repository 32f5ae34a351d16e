"""The full plan when no site rule couples printers: class by class, then even out the tail.

Without staffed hours, operator time or heat-up limits, printers of one class only compete
with each other for the work the bound's flow routed to that class. Each class is then plain
list scheduling on identical printers (longest plate first within equal urgency), which needs
one heap operation per plate. Rounding the flow to whole jobs leaves some classes a little
over; the tail pass moves the plan's last runs to printers of other eligible classes while
that makes them end earlier. Same dispatch rule as `Engine.decide`, minus the rules that need
a shared clock, so it is much faster for the whole farm.
"""

from __future__ import annotations

import heapq

import numpy as np

from farm.scheduling.calendar import after_windows
from farm.scheduling.engine import Engine
from farm.scheduling.types import Assignment, Plan

Run = tuple[int, int, int, float]  # (place in sequence, job position, copies, seconds)


def is_simple(engine: Engine) -> bool:
    """Do no site rules couple printers or delay runs (the class-by-class plan is exact)."""
    return (
        all(
            not r.staffed_hours and not r.max_heating and not r.down and not r.change_seconds
            for r in engine.rules.values()
        )
        and engine.options.allow_material_changes
    )


def plan_fast(engine: Engine) -> Plan:
    """Assign by LPT per class, even the tail, then order each printer's runs by urgency.

    Which printer runs what decides the makespan; in which order a printer runs its share
    decides tardiness, and (without setups or staffed hours) reordering a printer's runs does
    not move its last end. So: longest plates first for the assignment, then each printer
    runs its work most urgent first (priority, due date), grouped by material within equal
    urgency.
    """
    idx = engine.index
    n_classes = len(idx.class_members)
    queues: list[list[int]] = [[] for _ in range(n_classes)]
    primary = engine.primary
    remaining = engine.remaining
    plate = engine.plate_seconds
    for j in sorted(range(len(plate)), key=plate.__getitem__, reverse=True):
        if remaining[j] and primary[j] >= 0:
            queues[primary[j]].append(j)
    order = _sequence_order(engine)

    runs_of: list[list[Run]] = [[] for _ in engine.printers]
    free = engine.free
    work = engine.work
    windows = engine.windows
    clear = [0.0 if p.auto_eject else engine.rules[p.site].clear_seconds for p in engine.printers]
    heapreplace = heapq.heapreplace
    for k in range(n_classes):
        heap = [(free[i], i) for i in idx.class_members[k]]
        heapq.heapify(heap)
        model = idx.class_model[k]
        for j in queues[k]:
            w = work[j]
            per_copy = w.seconds_on(model) if w.model_seconds else w.seconds_per_copy
            per_plate = max(1, w.copies_per_plate)
            left = remaining[j]
            key = order[j]
            while left > 0:
                copies = per_plate if left > per_plate else left
                left -= copies
                at, i = heap[0]
                duration = per_copy * copies
                if windows[i]:
                    at = after_windows(at, duration, windows[i])
                runs_of[i].append((key, j, copies, duration))
                heapreplace(heap, (at + duration + clear[i], i))
            remaining[j] = 0
        for at, i in heap:
            free[i] = at  # when its last run ends and the bed is clear
    _even_the_tail(engine, runs_of, clear)
    return _sequence(engine, runs_of, clear)


def _sequence_order(engine: Engine) -> list[int]:
    """Per job, its place in a printer's sequence: urgency, then material, then rank."""
    engine._rank_order()
    states: dict[tuple[str, str], int] = {}
    codes = np.array(
        [states.setdefault((w.material, w.colour.lower()), len(states)) for w in engine.work],
        dtype=np.int64,
    )
    tier = np.array(engine.tier, dtype=np.int64)
    rank = np.array(engine.rank, dtype=np.int64)
    order = np.lexsort((rank, codes, tier))
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return place.tolist()


def _sequence(engine: Engine, runs_of: list[list[Run]], clear: list[float]) -> Plan:
    """Each printer's runs, most urgent first, back to back from when it is free."""
    plan = Plan(unplaceable=dict(engine.unplaceable), lower_bound=engine.lower_bound)
    out = plan.assignments
    work = engine.work
    state = [(w.material, w.colour.lower()) for w in work]
    ids = [w.job_id for w in work]
    for i, runs in enumerate(runs_of):
        if not runs:
            continue
        pid = engine.printers[i].id
        held = engine.loaded[i]
        at = engine.free_at_start[i]
        gap = clear[i]
        windows = engine.windows[i]
        runs.sort()
        for _, j, copies, duration in runs:
            start = after_windows(at, duration, windows) if windows else at
            want = state[j]
            change = held[0] != want[0] or (bool(want[1]) and held[1] != want[1])
            if change:
                held = want
            out.append(Assignment(ids[j], pid, copies, start, start + duration, change))
            at = start + duration + gap
        engine.loaded[i] = held
        engine.free[i] = at
    return plan


def _even_the_tail(engine: Engine, runs_of: list[list[Run]], clear: list[float]) -> None:
    """Move the last run of the latest printer to where it ends soonest, while that helps.

    Works on each printer's end time (free); windows make it approximate, the sequencing
    pass that follows computes the exact times.
    """
    idx = engine.index
    free = engine.free
    windows = engine.windows
    group_of = idx.group_of
    latest = [(-free[i], i) for i, runs in enumerate(runs_of) if runs]
    heapq.heapify(latest)
    soonest = [[(free[i], i) for i in members] for members in idx.class_members]
    for heap in soonest:
        heapq.heapify(heap)
    moves = 0
    while latest and moves < 20 * len(runs_of):
        neg, i = latest[0]
        if -neg != free[i] or not runs_of[i]:
            heapq.heappop(latest)  # stale entry
            continue
        key, job, copies, duration = runs_of[i][-1]
        end = free[i] - clear[i]
        best: tuple[float, int, float] | None = None
        for k in idx.group_classes[int(group_of[job])]:
            heap = soonest[k]
            while heap and heap[0][0] != free[heap[0][1]]:
                heapq.heappop(heap)
            if not heap or heap[0][1] == i:
                continue
            at, m = heap[0]
            new_duration = engine.seconds(job, k) * copies
            if windows[m]:
                at = after_windows(at, new_duration, windows[m])
            if best is None or at + new_duration < best[0]:
                best = (at + new_duration, m, new_duration)
        if best is None or best[0] >= end - 1e-6:
            return  # the plan's last run cannot end sooner anywhere: the tail is even
        new_end, m, new_duration = best
        runs_of[i].pop()
        runs_of[m].append((key, job, copies, new_duration))
        free[m] = new_end + clear[m]
        free[i] = free[i] - duration - clear[i] if runs_of[i] else engine.free_at_start[i]
        heapq.heappush(latest, (-free[m], m))
        heapq.heappush(latest, (-free[i], i))
        heapq.heappush(soonest[engine.class_of[m]], (free[m], m))
        heapq.heappush(soonest[engine.class_of[i]], (free[i], i))
        moves += 1
