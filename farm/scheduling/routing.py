"""Route each job to one printer class, in the proportions of the lower bound's flow.

The bound (see `bound.py`) says how much of each group of interchangeable jobs each class
should take for the makespan to reach it; handing out whole jobs in those proportions,
longest first to the class with the most quota left, gives every class its fair share of
each group. Jobs with a preferred site go to a class there when its quota (or the flow's
spare capacity there) allows.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from farm.scheduling.bound import makespan_bound

if TYPE_CHECKING:
    from farm.scheduling.engine import Engine


def route(engine: Engine) -> tuple[float, list[int]]:
    """(lower bound as a time, primary class per job; -1 for jobs with nothing left)."""
    n_jobs = len(engine.work)
    idx = engine.index
    n_groups = len(idx.group_classes)
    class_free = [
        np.sort(np.array([engine.free[m] - engine.now for m in mem])) for mem in idx.class_members
    ]
    earliest = [float(f[0]) if len(f) else math.inf for f in class_free]
    group_first = [min(earliest[k] for k in classes) for classes in idx.group_classes]
    group_of = idx.group_of.tolist()
    # Each job's work counts at its fastest eligible model: the bound must stay a bound.
    best = np.array(engine.base, dtype=float)
    first = np.array([group_first[g] if g >= 0 else 0.0 for g in group_of])
    for j, by_model in enumerate(engine.by_model):
        if by_model is not None and group_of[j] >= 0:
            classes = idx.group_classes[group_of[j]]
            best[j] = min(engine.seconds(j, k) for k in classes)
            first[j] = min(earliest[k] + engine.seconds(j, k) for k in classes) - best[j]
    remaining = np.array(engine.remaining, dtype=float)
    per_plate = np.array([max(1, w.copies_per_plate) for w in engine.work], dtype=float)
    live = remaining > 0
    longest_plate = float(
        (first + best * np.minimum(remaining, per_plate))[live].max() if live.any() else 0.0
    )
    job_work = best * remaining
    group_work = np.bincount(
        idx.group_of[live], weights=job_work[live], minlength=n_groups
    ).tolist()
    bound = makespan_bound(idx.group_classes, group_work, class_free, floor=longest_plate)

    # Hand each group's jobs to classes in the proportions of the flow, longest first to
    # the class with the most quota left (LPT over classes), near sites first.
    heaps: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for (g, k), amount in bound.share.items():
        heaps.setdefault((g, -1), []).append((-amount, k))
        heaps.setdefault((g, engine.class_site_code[k]), []).append((-amount, k))
    for heap in heaps.values():
        heapq.heapify(heap)
    left = dict(bound.share)
    slack = list(bound.slack)
    primary = [-1] * n_jobs
    lpt = np.lexsort((-job_work,)).tolist()
    work_list = job_work.tolist()
    for j in lpt:
        g = group_of[j]
        if g < 0 or not engine.remaining[j]:
            continue
        pref = engine.pref[j]
        heap = heaps.get((g, pref), []) if pref >= 0 else []
        if pref >= 0 and (not heap or heap[0][0] >= 0):
            # The flow sent none of this group to the preferred site; spare capacity
            # there (the flow's slack at the bound) may still take it at no cost.
            spare = [k for k in idx.group_classes[g] if engine.class_site_code[k] == pref]
            k = max(spare, key=slack.__getitem__, default=-1)
            if k >= 0 and slack[k] >= work_list[j]:
                slack[k] -= work_list[j]
                primary[j] = k
                continue
        if not heap or heap[0][0] >= 0:
            heap = heaps.get((g, -1), [])
        if not heap:
            primary[j] = idx.group_classes[g][0]
            continue
        # Entries go stale when the other heap of the group took from the same class.
        while -heap[0][0] != left[(g, heap[0][1])]:
            heapq.heapreplace(heap, (-left[(g, heap[0][1])], heap[0][1]))
        k = heap[0][1]
        left[(g, k)] -= work_list[j]
        heapq.heapreplace(heap, (-left[(g, k)], k))
        primary[j] = k
    return engine.now + bound.seconds, primary
