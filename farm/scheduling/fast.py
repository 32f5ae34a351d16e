"""The full plan when no site rule couples printers: class by class, then even out the tail.

Without staffed hours, operator time or heat-up limits, printers of one class only compete
with each other for the work the bound's flow routed to that class. Each class is then plain
list scheduling on identical printers (longest plate first within equal urgency), which needs
one heap operation per plate. Rounding the flow to whole jobs leaves some classes a little
over; the tail pass moves the plan's last runs to printers of other eligible classes while
that makes them end earlier. Within a class, a printer already holding a plate's material
takes it when it is free not much later than the first free printer, so filament changes are
grouped (`PlanOptions.change_penalty_seconds`). Finally each printer runs its share most
urgent first. Much faster than playing `Engine.decide` over the whole farm.
"""

from __future__ import annotations

import heapq
from itertools import chain

import numpy as np

from farm.scheduling.calendar import after_windows
from farm.scheduling.engine import Engine
from farm.scheduling.types import Assignment, Plan

# Within 0.3% of the bound the tail search stops: the rest would cost more than it gains.
GOOD_ENOUGH = 0.003
SWAPS = 60  # each swap search looks at a few thousand pairs: bounded, so the plan stays fast
Run = tuple[int, int, int, float]  # (place in sequence, job position, copies, seconds)


def is_simple(engine: Engine) -> bool:
    """Do no site rules couple printers or make a run's time depend on the one before.

    Site downtime is allowed: it is a window on each of the site's printers, like
    maintenance, and each printer's runs are stepped around its windows.
    """
    return (
        all(
            not r.staffed_hours and not r.max_heating and not r.change_seconds
            for r in engine.rules.values()
        )
        and engine.options.allow_material_changes
    )


def plan_fast(engine: Engine) -> Plan:
    """Assign by LPT per class, even the tail, then order each printer's runs by urgency."""
    return _sequence(engine, assign(engine), clear_seconds(engine))


def clear_seconds(engine: Engine) -> list[float]:
    return [0.0 if p.auto_eject else engine.rules[p.site].clear_seconds for p in engine.printers]


def assign(engine: Engine) -> list[list[Run]]:
    """Each printer's runs as (place in sequence, job, copies, seconds), in LPT order.

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
    clear = clear_seconds(engine)
    heapreplace = heapq.heapreplace
    penalty = engine.options.change_penalty_seconds
    for k in range(n_classes):
        if penalty > 0:
            _assign_grouped(engine, k, queues[k], order, runs_of, clear, penalty)
            continue
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
    return runs_of


def _assign_grouped(
    engine: Engine,
    k: int,
    jobs: list[int],
    order: list[int],
    runs_of: list[list[Run]],
    clear: list[float],
    penalty: float,
) -> None:
    """List scheduling of class k that keeps printers on their material where it costs little.

    Each plate goes to the earliest-free printer, unless a printer already holding its
    material (and colour, if one is asked for) is free at most `penalty` seconds later:
    then to that one. Heaps per material and per (material, colour) find it; entries go
    stale when a printer is given work or changes material, and are dropped when seen.
    """
    free, work, windows, remaining = engine.free, engine.work, engine.windows, engine.remaining
    model = engine.index.class_model[k]
    members = engine.index.class_members[k]
    state = {i: engine.loaded[i] for i in members}
    every = [(free[i], i) for i in members]
    by_material: dict[str, list[tuple[float, int]]] = {}
    by_state: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for i in members:
        by_material.setdefault(state[i][0], []).append((free[i], i))
        by_state.setdefault(state[i], []).append((free[i], i))
    for heap in chain([every], by_material.values(), by_state.values()):
        heapq.heapify(heap)

    heappop, heappush = heapq.heappop, heapq.heappush
    for j in jobs:
        w = work[j]
        per_copy = w.seconds_on(model) if w.model_seconds else w.seconds_per_copy
        per_plate = engine.per_plate[j]
        material, colour = w.material, w.colour.lower()
        left = remaining[j]
        key = order[j]
        while left > 0:
            copies = per_plate if left > per_plate else left
            left -= copies
            while every[0][0] != free[every[0][1]]:
                heappop(every)  # stale: the printer got work since
            at, i = every[0]
            same = by_state.get((material, colour)) if colour else by_material.get(material)
            while same:
                t, m = same[0]
                held = state[m]
                if t == free[m] and held[0] == material and (not colour or held[1] == colour):
                    if t <= at + penalty:
                        at, i = t, m
                    break
                heappop(same)
            duration = per_copy * copies
            if windows[i]:
                at = after_windows(at, duration, windows[i])
            runs_of[i].append((key, j, copies, duration))
            done = free[i] = at + duration + clear[i]
            held = state[i]
            if held[0] != material or (colour and held[1] != colour):
                state[i] = held = (material, colour or held[1])
            heappush(every, (done, i))
            heappush(by_material.setdefault(held[0], []), (done, i))
            heappush(by_state.setdefault(held, []), (done, i))
        remaining[j] = 0


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
    """Each printer's runs, most urgent first, back to back from when it is free.

    Vectorised over all runs: sort by (printer, place), then each start is the printer's
    free time plus the running sum of the runs (and bed clearings) before it. Printers with
    maintenance windows are redone one run at a time, since a window can push any run.
    """
    plan = Plan(unplaceable=dict(engine.unplaceable), lower_bound=engine.lower_bound)
    lengths = np.array([len(r) for r in runs_of], dtype=np.int64)
    if not lengths.sum():
        return plan
    keys, jobs, copies, durations = (
        np.array(column) for column in zip(*chain.from_iterable(runs_of), strict=True)
    )
    printer = np.repeat(np.arange(len(runs_of)), lengths)
    order = np.lexsort((keys, printer))
    printer, jobs, copies, durations = printer[order], jobs[order], copies[order], durations[order]
    step = durations + np.array(clear)[printer]
    before = np.cumsum(step) - step  # sum of all earlier steps, across printers
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))  # index of each printer's first run
    start = np.array(engine.free_at_start)[printer] + before - before[first[printer]]
    for i in [i for i, w in enumerate(engine.windows) if w and lengths[i]]:
        at = engine.free_at_start[i]
        for r in range(int(first[i]), int(first[i] + lengths[i])):
            start[r] = after_windows(at, float(durations[r]), engine.windows[i])
            at = start[r] + step[r]
    end = start + durations

    # A change wherever the material differs from what the printer holds, or a colour is
    # asked for that differs from the last colour loaded ("any colour" keeps what is there).
    materials: dict[str, int] = {}
    colours: dict[str, int] = {"": -1}
    job_material = np.array([materials.setdefault(w.material, len(materials)) for w in engine.work])
    job_colour = np.array(
        [colours.setdefault(w.colour.lower(), len(colours) - 1) for w in engine.work]
    )
    held_m = np.array([materials.setdefault(m, len(materials)) for m, _ in engine.loaded])
    held_c = np.array([colours.setdefault(c, len(colours) - 1) for _, c in engine.loaded])
    run_m, run_c = job_material[jobs], job_colour[jobs]
    is_first = np.zeros(len(jobs), dtype=bool)
    is_first[first[lengths > 0]] = True
    prev_m = np.where(is_first, held_m[printer], np.roll(run_m, 1))
    # The colour on the printer before each run: the last colour explicitly asked for.
    c_seen = np.where(run_c >= 0, run_c, -1)
    c_seen = np.where(is_first & (c_seen < 0), held_c[printer], c_seen)
    idx = np.maximum.accumulate(np.where(is_first | (c_seen >= 0), np.arange(len(jobs)), 0))
    colour_after = c_seen[idx]
    colour_before = np.where(is_first, held_c[printer], np.roll(colour_after, 1))
    change = (run_m != prev_m) | ((run_c >= 0) & (run_c != colour_before))

    ids = np.array([w.job_id for w in engine.work])[jobs].tolist()
    pids = np.array([p.id for p in engine.printers])[printer].tolist()
    plan.assignments = [
        Assignment(*row)
        for row in zip(
            ids,
            pids,
            copies.tolist(),
            start.tolist(),
            end.tolist(),
            change.tolist(),
            strict=True,
        )
    ]
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
    moves = swaps = 0
    # Close enough to the bound: the rest of the search would cost more than it could gain.
    good_enough = engine.lower_bound + GOOD_ENOUGH * (engine.lower_bound - engine.now)
    while latest and moves < 20 * len(runs_of):
        neg, i = latest[0]
        if -neg != free[i] or not runs_of[i]:
            heapq.heappop(latest)  # stale entry
            continue
        if free[i] - clear[i] <= good_enough:
            return
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
            # No single run can go: try swapping one of its runs for a shorter one of a
            # printer that ends early. Failing that too, the tail is as even as it gets.
            swapped = _swap(engine, runs_of, clear, i, soonest) if swaps < SWAPS else None
            if swapped is None:
                return
            swaps += 1
            for m in (i, swapped):
                heapq.heappush(latest, (-free[m], m))
                heapq.heappush(soonest[engine.class_of[m]], (free[m], m))
            moves += 1
            continue
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


def _swap(
    engine: Engine,
    runs_of: list[list[Run]],
    clear: list[float],
    i: int,
    soonest: list[list[tuple[float, int]]],
) -> int | None:
    """Swap a run of printer i for a shorter one of the earliest printer that can take it.

    Returns the other printer, or None when no swap makes both end before i ends now.
    """
    idx = engine.index
    free = engine.free
    eligible = idx.eligible
    k_i = engine.class_of[i]
    limit = free[i]
    best: tuple[float, int, int, int] | None = None
    earliest_of: dict[int, list[tuple[float, int, int]]] = {}
    for a, (_, job, copies, d_r) in enumerate(runs_of[i]):
        g = int(idx.group_of[job])
        if g not in earliest_of:
            tops = []
            for k in idx.group_classes[g]:
                heap = soonest[k]
                while heap and heap[0][0] != free[heap[0][1]]:
                    heapq.heappop(heap)
                if heap and heap[0][1] != i and not engine.windows[heap[0][1]]:
                    tops.append((heap[0][0], heap[0][1], k))
            earliest_of[g] = heapq.nsmallest(2, tops)
        for _, m, k in earliest_of[g]:
            d_r_on_m = engine.seconds(job, k) * copies
            for b, (_, other, other_copies, d_s) in enumerate(runs_of[m]):
                if d_s >= d_r_on_m or not eligible[other, k_i]:
                    continue
                d_s_on_i = engine.seconds(other, k_i) * other_copies
                worst = max(limit - d_r + d_s_on_i, free[m] + d_r_on_m - d_s)
                if worst < limit - 1e-6 and (best is None or worst < best[0]):
                    best = (worst, m, a, b)
    if best is None or engine.windows[i]:
        return None
    _, m, a, b = best
    key_r, job, copies, d_r = runs_of[i][a]
    key_s, other, other_copies, d_s = runs_of[m][b]
    k_m = engine.class_of[m]
    d_r_on_m = engine.seconds(job, k_m) * copies
    d_s_on_i = engine.seconds(other, k_i) * other_copies
    runs_of[i][a] = (key_s, other, other_copies, d_s_on_i)
    runs_of[m][b] = (key_r, job, copies, d_r_on_m)
    free[i] += d_s_on_i - d_r
    free[m] += d_r_on_m - d_s
    return m
