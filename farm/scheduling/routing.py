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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from farm.scheduling.bound import makespan_bound
from farm.scheduling.classes import Index


@dataclass(frozen=True)
class RouteInput:
    """What routing reads: jobs by position j, printers by position, classes by k."""

    now: float
    index: Index
    free: Sequence[float]  # per printer: when it can start its next run, >= now
    remaining: Sequence[int]  # per job: copies left to plan (0: nothing to route)
    per_plate: Sequence[int]  # per job: copies in one run, >= 1
    base: Sequence[float]  # per job: seconds per copy
    by_model: Sequence[Mapping[str, float] | None]  # per job: seconds per copy by model
    seconds: Callable[[int, int], float]  # (job, class) -> seconds per copy on that class
    class_site: Sequence[int]  # per class: its site's code
    preferred: Sequence[int]  # per job: its preferred site's code, -1 = none


def route(r: RouteInput) -> tuple[float, list[int]]:
    """(lower bound as a time, primary class per job; -1 for jobs with nothing left)."""
    n_jobs = len(r.remaining)
    idx = r.index
    n_groups = len(idx.group_classes)
    class_free = [np.sort(np.array([r.free[m] - r.now for m in mem])) for mem in idx.class_members]
    earliest = [float(f[0]) if len(f) else math.inf for f in class_free]
    group_first = [min(earliest[k] for k in classes) for classes in idx.group_classes]
    group_of = idx.group_of.tolist()
    # Each job's work counts at its fastest eligible model: the bound must stay a bound.
    best = np.array(r.base, dtype=float)
    first = np.array([group_first[g] if g >= 0 else 0.0 for g in group_of])
    for j, by_model in enumerate(r.by_model):
        if by_model is not None and group_of[j] >= 0:
            classes = idx.group_classes[group_of[j]]
            best[j] = min(r.seconds(j, k) for k in classes)
            first[j] = min(earliest[k] + r.seconds(j, k) for k in classes) - best[j]
    remaining = np.array(r.remaining, dtype=float)
    per_plate = np.array(r.per_plate, dtype=float)
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
    # Per group: its heaps by site code (-1: any site) and each class's quota left, looked
    # up by class (a job costs a few look-ups here, 40,000 jobs a plan).
    heaps_of: list[dict[int, list[tuple[float, int]]]] = [{} for _ in range(n_groups)]
    left_of: list[dict[int, float]] = [{} for _ in range(n_groups)]
    for (g, k), amount in bound.share.items():
        heaps_of[g].setdefault(-1, []).append((-amount, k))
        heaps_of[g].setdefault(r.class_site[k], []).append((-amount, k))
        left_of[g][k] = amount
    for group_heaps in heaps_of:
        for heap in group_heaps.values():
            heapq.heapify(heap)
    slack = list(bound.slack)
    primary = [-1] * n_jobs
    lpt = np.lexsort((-job_work,)).tolist()
    work_list = job_work.tolist()
    remaining_of, preferred, heapreplace = r.remaining, r.preferred, heapq.heapreplace
    for j in lpt:
        g = group_of[j]
        if g < 0 or not remaining_of[j]:
            continue
        pref = preferred[j]
        group_heaps = heaps_of[g]
        heap = group_heaps.get(pref, []) if pref >= 0 else []
        if pref >= 0 and (not heap or heap[0][0] >= 0):
            # The flow sent none of this group to the preferred site; spare capacity
            # there (the flow's slack at the bound) may still take it at no cost.
            spare = [k for k in idx.group_classes[g] if r.class_site[k] == pref]
            k = max(spare, key=slack.__getitem__, default=-1)
            if k >= 0 and slack[k] >= work_list[j]:
                slack[k] -= work_list[j]
                primary[j] = k
                continue
        if not heap or heap[0][0] >= 0:
            heap = group_heaps.get(-1, [])
        if not heap:
            primary[j] = idx.group_classes[g][0]
            continue
        # Entries go stale when the other heap of the group took from the same class.
        left = left_of[g]
        top = heap[0]
        while -top[0] != left[top[1]]:
            heapreplace(heap, (-left[top[1]], top[1]))
            top = heap[0]
        k = top[1]
        quota = left[k] - work_list[j]
        left[k] = quota
        heapreplace(heap, (-quota, k))
        primary[j] = k
    return r.now + bound.seconds, primary
