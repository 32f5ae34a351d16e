"""An honest lower bound on the makespan, with eligibility.

The relaxation: work may be split freely between printers (preemption, fractions of a copy),
setups, staffed hours and staggering are ignored, and each job's work counts at its fastest
eligible printer model. A makespan T is then possible only if the work of every group of jobs
with the same eligible printer classes can be routed to those classes without any class
getting more than sum over its printers of max(0, T - free_at). That is a max-flow question;
bisection on T finds the smallest T that passes. Any real plan needs at least that long, and
at least as long as its longest single plate on its best printer.

The flow at the smallest feasible T also says how much of each group should go to each class,
which the planner uses as guidance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

UNIT = 10.0  # max-flow needs integers: 10 s steps, rounded so the relaxation only gets looser
_BIG = 2**30


@dataclass(frozen=True)
class Bound:
    seconds: float  # lower bound on (makespan - now)
    share: dict[tuple[int, int], float]  # (group, class) -> seconds of work the flow routed
    slack: list[float]  # per class, seconds of capacity the flow left unused at the horizon


def class_capacity(free: np.ndarray, horizon: float) -> float:
    """Seconds of printing a class offers before `horizon`: sum of max(0, horizon - free).

    `free` is (n,) float, sorted, relative to now and >= 0.
    """
    n = int(np.searchsorted(free, horizon, side="right"))
    return float(n * horizon - free[:n].sum()) if n else 0.0


def makespan_bound(
    group_classes: list[list[int]],
    group_work: list[float],
    class_free: list[np.ndarray],
    *,
    floor: float = 0.0,
) -> Bound:
    """Smallest horizon (seconds from now) at which the fractional relaxation is feasible.

    group_classes[g]: classes that can take group g's work; group_work[g]: its seconds;
    class_free[k]: (n_k,) sorted free times of class k's printers, relative to now.
    `floor` is a bound already known (e.g. the longest plate), the search starts there.
    """
    groups = [g for g, w in enumerate(group_work) if w > 0 and group_classes[g]]
    if not groups:
        horizon = max(floor, 0.0)
        return Bound(horizon, {}, [class_capacity(f, horizon) for f in class_free])
    n_classes = len(class_free)
    n_groups = len(groups)
    source, sink = 0, 1 + n_groups + n_classes
    rows: list[int] = []
    cols: list[int] = []
    for i, g in enumerate(groups):
        rows.append(source)
        cols.append(1 + i)
        for k in group_classes[g]:
            rows.append(1 + i)
            cols.append(1 + n_groups + k)
    for k in range(n_classes):
        rows.append(1 + n_groups + k)
        cols.append(sink)
    row_index, col_index = np.array(rows), np.array(cols)
    supply = np.array([math.floor(group_work[g] / UNIT) for g in groups], dtype=np.int64)
    total = int(supply.sum())
    size = sink + 1

    def flow_at(horizon: float) -> tuple[bool, object]:
        data: list[int] = []
        for i, g in enumerate(groups):
            data.append(int(supply[i]))
            data.extend([_BIG] * len(group_classes[g]))
        for k in range(n_classes):
            cap = class_capacity(class_free[k], horizon) if len(class_free[k]) else 0.0
            data.append(min(_BIG, math.ceil(cap / UNIT)))
        graph = csr_array(
            (np.array(data, dtype=np.int32), (row_index, col_index)), shape=(size, size)
        )
        result = maximum_flow(graph, source, sink, method="dinic")
        return int(result.flow_value) >= total, result.flow

    all_free = np.sort(np.concatenate([f for f in class_free if len(f)] or [np.zeros(0)]))
    # Everything on every printer is a first guess from below; double until feasible.
    lo = max(floor, class_spread(all_free, float(sum(group_work[g] for g in groups))))
    ok, flow = flow_at(lo)
    if ok:
        return _result(lo, lo, flow, groups, group_classes, class_free)
    hi = max(lo * 2, lo + 3600.0)
    ok, flow = flow_at(hi)
    while not ok:
        lo, hi = hi, hi * 2
        ok, flow = flow_at(hi)
    while hi - lo > max(UNIT, 2e-5 * hi):
        mid = (lo + hi) / 2
        ok_mid, flow_mid = flow_at(mid)
        if ok_mid:
            hi, flow = mid, flow_mid
        else:
            lo = mid
    # lo failed (or is the floor): no plan can be shorter. hi's flow is the guidance.
    return _result(lo, hi, flow, groups, group_classes, class_free)


def _result(
    bound: float,
    horizon: float,
    flow: object,
    groups: list[int],
    group_classes: list[list[int]],
    class_free: list[np.ndarray],
) -> Bound:
    share = _shares(flow, groups, len(groups), group_classes)
    used = [0.0] * len(class_free)
    for (_, k), amount in share.items():
        used[k] += amount
    slack = [
        max(0.0, class_capacity(f, horizon) - used[k]) if len(f) else 0.0
        for k, f in enumerate(class_free)
    ]
    return Bound(bound, share, slack)


def class_spread(free: np.ndarray, work: float) -> float:
    """The horizon at which `work` spread over printers free at `free` (sorted) just fits."""
    if work <= 0 or not len(free):
        return 0.0
    prefix = np.cumsum(free)
    n = np.arange(1, len(free) + 1)
    # With the first n printers busy, horizon = (work + sum of their free times) / n.
    horizon = (work + prefix) / n
    valid = np.nonzero(horizon >= free)[0]
    return float(horizon[valid].min()) if len(valid) else float(free[-1])


def _shares(
    flow: object, groups: list[int], n_groups: int, group_classes: list[list[int]]
) -> dict[tuple[int, int], float]:
    matrix = csr_array(flow)
    share: dict[tuple[int, int], float] = {}
    for i, g in enumerate(groups):
        row = matrix[[1 + i], :].toarray()[0]
        for k in group_classes[g]:
            amount = float(row[1 + n_groups + k])
            if amount > 0:
                share[(g, k)] = amount * UNIT
    return share
