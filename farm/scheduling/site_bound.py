"""Lower bounds that hold under site rules: no plan can end sooner, or change filament less.

The flow bound of `bound.py` knows eligibility but not the rules of a site. These add what
the rules cost any plan, each argued so that it stays a bound (never above the optimum):

- **Nights.** A bed that finishes while nobody is there waits for the next shift, so on one
  printer at most one run overlaps each unstaffed stretch (the run after it starts only once
  someone has cleared the bed). Printing done at night is then at most the sum, over the
  longest plates, one per (printer, night), of the most night one plate can overlap: at
  its slowest eligible model, and only with the nights before the horizon.
- **Bed clearing.** Every run but a printer's last is followed by a clearing that keeps the
  printer from printing: a run costs its plate plus the site's clearing time.
- **Changes.** A plan ending by a horizon needs at least `changes_bound` changes (below),
  each taking a printer out for the site's change time.
- **Heat-up limits.** With at most `limit` printers heating for `heat` seconds, a site
  starts at most `limit` runs per `heat` seconds, and at night at most one per printer.

Each is an aggregate over the farm (eligibility ignored, which only weakens it); the
makespan bound is the largest of them and the flow bound. Times are POSIX seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from farm.scheduling.engine import Engine

# Of each cell of plates (one filament, one set of eligible printers), at most this many of
# the longest are looked at by the release bound: beyond a few, the work bounds say more.
RELEASE_PLATES = 32

# Unstaffed stretches are listed this far past the plain bound at most: a plan longer than
# that is not one whose bound anybody needs to the minute.
HORIZON_FACTOR = 8.0


@dataclass(frozen=True)
class RuleBound:
    makespan: float  # no plan ends all its placeable work before this (absolute time)
    plain: float  # the flow bound alone, without site rules
    nights: float  # the bound from work, bed clearing, changes and nights
    heat: float  # the bound from heat-up limits
    release: float = 0.0  # the bound from when printers can first print a filament


@dataclass(frozen=True)
class _Plates:
    seconds: np.ndarray  # (runs,) float: each run at its job's fastest eligible model
    state: np.ndarray  # (runs,) int: index into `states`
    states: list[tuple[str, str]]  # (material, colour); colour "" = any colour
    job: np.ndarray  # (runs,) int: the job's position in the engine's work
    slowest: np.ndarray  # (runs,) float: each run at its job's slowest eligible model


def plates(engine: Engine) -> _Plates:
    """Every run the plan must start: copies grouped per plate, fastest model's time."""
    idx = engine.index
    n = len(engine.work)
    left = np.array(engine.remaining, dtype=np.int64)
    left[idx.group_of < 0] = 0
    per_copy = np.array(engine.base, dtype=float)
    slow_copy = per_copy.copy()
    for j in range(n):
        if engine.by_model[j] is not None and left[j] > 0:
            times = [engine.seconds(j, k) for k in idx.group_classes[int(idx.group_of[j])]]
            per_copy[j], slow_copy[j] = min(times), max(times)
    per_plate = np.array(engine.per_plate, dtype=np.int64)
    codes: dict[tuple[str, str], int] = {}
    state = np.array(
        [codes.setdefault((w.material, w.colour.lower()), len(codes)) for w in engine.work],
        dtype=np.int64,
    )
    full, rest = np.divmod(left, per_plate)
    has_rest = rest > 0

    def per_run(whole: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
        """A value per run: `whole` for each full plate, `last` for a job's last one."""
        last = whole if last is None else last
        return np.concatenate([np.repeat(whole, full), last[has_rest]])

    return _Plates(
        seconds=per_run(per_copy * per_plate, per_copy * rest),
        state=per_run(state),
        states=list(codes),
        job=per_run(np.arange(n, dtype=np.int64)),
        slowest=per_run(slow_copy * per_plate, slow_copy * rest),
    )


def unstaffed_stretches(engine: Engine, site: str, until: float) -> list[tuple[float, float]]:
    """The site's stretches without people, [a, b), that end after now and start before
    `until` (the first may have begun before now)."""
    staffing = engine.staffing[site]
    if staffing.always:
        return []
    out: list[tuple[float, float]] = []
    t = engine.now
    while t < until:
        a = staffing.shift_end(t)  # t itself when nobody is there at t
        if math.isinf(a) or a >= until:
            break
        b = staffing.next_staffed(a)
        if math.isinf(b):
            out.append((a, math.inf))
            break
        out.append((a, b))
        t = b
    return out


def _measure(stretches: np.ndarray, lo: np.ndarray, hi: float) -> np.ndarray:
    """(n,) seconds of the stretches ((m, 2) array) inside [lo_i, hi]."""
    if not len(stretches):
        return np.zeros(len(lo))
    a = np.maximum(stretches[None, :, 0], lo[:, None])
    b = np.minimum(stretches[None, :, 1], hi)
    return np.clip(b - a, 0.0, None).sum(axis=1)


def _night_overlap(seconds: np.ndarray, stretches: np.ndarray) -> np.ndarray:
    """(runs,) the most unstaffed time a run of each length can overlap, wherever it starts.

    The overlap of [s, s + p) with the stretches is piecewise linear in s, so its maximum is
    where s or s + p meets a stretch's edge: s = a or s = b - p for some stretch (a, b).
    """
    if not len(stretches) or not len(seconds):
        return np.zeros(len(seconds))
    edges = np.unique(stretches.ravel())
    covered = np.concatenate(([0.0], np.cumsum(np.diff(edges) * _inside(edges, stretches))))

    def unstaffed_before(x: np.ndarray) -> np.ndarray:
        return np.interp(x, edges, covered)

    best = np.zeros(len(seconds))
    for a, b in stretches:
        for s in (np.full(len(seconds), a), b - seconds):
            best = np.maximum(best, unstaffed_before(s + seconds) - unstaffed_before(s))
    return np.minimum(best, seconds)


def _top_sum(values: np.ndarray, counts: np.ndarray) -> Callable[[int], float]:
    """k -> the sum of the k largest of `values`, each there `counts` times."""
    order = np.argsort(values)[::-1]
    v, c = values[order], counts[order]
    taken = np.cumsum(c)
    sums = np.cumsum(v * c)

    def top(k: int) -> float:
        i = int(np.searchsorted(taken, k, side="left"))
        if i >= len(v):
            return float(sums[-1]) if len(v) else 0.0
        before = int(taken[i - 1]) if i else 0
        return float((sums[i - 1] if i else 0.0) + (k - before) * v[i])

    return top


def _inside(edges: np.ndarray, stretches: np.ndarray) -> np.ndarray:
    """(len(edges) - 1,) 1.0 where the segment between two edges is unstaffed."""
    middle = (edges[:-1] + edges[1:]) / 2
    inside = np.zeros(len(middle))
    for a, b in stretches:
        inside[(middle >= a) & (middle < b)] = 1.0
    return inside


def state_work(runs: _Plates) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """Seconds of work per material, and per (material, colour) asked for by colour."""
    per_state = np.bincount(runs.state, weights=runs.seconds, minlength=len(runs.states))
    work_m: dict[str, float] = {}
    work_mc: dict[tuple[str, str], float] = {}
    for (m, c), seconds in zip(runs.states, per_state.tolist(), strict=True):
        if seconds <= 0:
            continue
        work_m[m] = work_m.get(m, 0.0) + seconds
        if c:
            work_mc[(m, c)] = work_mc.get((m, c), 0.0) + seconds
    return work_m, work_mc


def _holders(engine: Engine) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Printers holding each material, and each (material, colour), before the plan."""
    holders_m: dict[str, int] = {}
    holders_mc: dict[tuple[str, str], int] = {}
    for m, c in engine.loaded_at_start:
        holders_m[m] = holders_m.get(m, 0) + 1
        holders_mc[(m, c)] = holders_mc.get((m, c), 0) + 1
    return holders_m, holders_mc


def changes_bound(
    engine: Engine,
    horizon: float,
    works: tuple[dict[str, float], dict[tuple[str, str], float]] | None = None,
    holders: tuple[dict[str, int], dict[tuple[str, str], int]] | None = None,
) -> int:
    """At least this many filament changes in any plan that ends all its work by `horizon`.

    A printer holding a state (material, or material and colour) prints it at most
    `horizon - its free time` seconds, the longest such span at most; one changing into it
    starts it at the earliest when someone is first there after it is free, plus the change,
    so it prints it at most `horizon` less that. A state with W seconds of work and H
    holders then needs at least (W - H * holder span) / changer span printers changing into
    it, each at least once. Changes into different states are different changes; changes
    into a material include those into each of its colours, so per material the larger
    count holds.
    """
    work_m, work_mc = works if works is not None else state_work(plates(engine))
    free = engine.free_at_start
    if not work_m or not free:
        return 0
    span = horizon - min(free)
    changer_span = horizon - _first_change_done(engine)
    if span <= 0 or changer_span <= 0:
        return 0
    holders_m, holders_mc = holders if holders is not None else _holders(engine)

    def changers(work: float, held: int) -> int:
        return max(0, math.ceil((work - held * span) / changer_span - 1e-9))

    total = 0
    for m, work in work_m.items():
        by_material = changers(work, holders_m.get(m, 0))
        by_colour = sum(
            changers(w, holders_mc.get((m2, c), 0)) for (m2, c), w in work_mc.items() if m2 == m
        )
        total += max(by_material, by_colour)
    return total


def _first_change_done(engine: Engine) -> float:
    """The earliest moment any printer can have changed filament: someone there after it is
    free, plus its site's change time."""
    return min(
        engine._staffing_of[i].next_staffed(free) + engine._change_of[i]
        for i, free in enumerate(engine.free_at_start)
    )


def site_rule_bound(engine: Engine, runs: _Plates | None = None) -> RuleBound:
    """The makespan bound with the site rules (see the module's docstring).

    Call it before planning: a plan consumes the engine's remaining copies.
    """
    plain = engine.lower_bound
    runs = runs if runs is not None else plates(engine)
    if not len(runs.seconds):
        return RuleBound(plain, plain, plain, plain, plain)
    nights = _nights_bound(engine, runs, plain)
    heat = _heat_bound(engine, runs, plain)
    release = _release_bound(engine, runs, max(plain, nights, heat))
    return RuleBound(max(plain, nights, heat, release), plain, nights, heat, release)


def _nights_bound(engine: Engine, runs: _Plates, plain: float) -> float:
    """The smallest horizon by which the work, bed clearing and changes fit in the printers'
    staffed time plus what one run per (printer, night) can print through each night."""
    now = engine.now
    printers = engine.printers
    free = np.array(engine.free_at_start, dtype=float)
    auto = np.array([p.auto_eject for p in printers], dtype=bool)
    clear = np.array(
        [0.0 if p.auto_eject else engine.rules[p.site].clear_seconds for p in printers]
    )
    change = min((engine.rules[p.site].change_seconds for p in printers), default=0.0)
    until = now + HORIZON_FACTOR * max(plain - now, 3600.0)
    sites = sorted({p.site for p in printers})
    site_of = np.array([sites.index(p.site) for p in printers])
    stretches = [
        np.array(unstaffed_stretches(engine, s, until), dtype=float).reshape(-1, 2) for s in sites
    ]
    stretches = [np.minimum(s, until) for s in stretches]
    # A run overlaps a night by its length on the printer it runs on: the slowest one's,
    # so that the overlap is never understated.
    lengths, counts = np.unique(runs.slowest, return_counts=True)
    covers: dict[tuple[tuple[float, ...], ...], Callable[[int], float]] = {}

    def cover(horizon: float, pairs: int) -> float:
        """The most night the `pairs` runs that can overlap the most print before `horizon`.

        A run overlaps a night only up to the horizon: the nights counted are those that
        start before it, cut there (the long weekend after the horizon is no night of this
        plan's), at the site where the run can overlap the most.
        """
        calendars = tuple(
            tuple(np.minimum(s[s[:, 0] < horizon], horizon).ravel().tolist()) for s in stretches
        )
        if calendars not in covers:
            overlap = np.zeros(len(lengths))
            for calendar in set(calendars):
                if calendar:
                    nights = np.array(calendar).reshape(-1, 2)
                    overlap = np.maximum(overlap, _night_overlap(lengths, nights))
            covers[calendars] = _top_sum(overlap, counts)
        return covers[calendars](pairs)

    work = float(runs.seconds.sum())
    works = state_work(runs)
    holders = _holders(engine)
    n_runs = len(runs.seconds)
    c_min = float(clear.min()) if len(clear) else 0.0
    worst_step = float(clear.max()) + max(
        (engine.rules[p.site].change_seconds for p in printers), default=0.0
    )

    def feasible(horizon: float) -> bool:
        span = np.clip(horizon - free, 0.0, None)
        used = span > 0
        night = np.zeros(len(printers))
        pairs = 0
        for k, s in enumerate(stretches):
            mine = (site_of == k) & ~auto & used
            if not mine.any() or not len(s):
                continue
            night[mine] = _measure(s, free[mine], horizon)
            # (printer, stretch) pairs: stretches that end after the printer is free and
            # start before the horizon.
            ends_after = np.searchsorted(s[:, 1], free[mine], side="right")
            starts_before = np.searchsorted(s[:, 0], horizon, side="left")
            pairs += int(np.clip(starts_before - ends_after, 0, None).sum())
        day = float((span - night).sum())
        night_total = float(night.sum())
        credit = float(clear[used].sum())  # a printer's last run needs no clearing
        steps = changes_bound(engine, horizon, works, holders) * change
        demand = work + c_min * n_runs + steps
        # Clearing and changes start while people are there but may run into the night, by
        # at most one clearing and one change per (printer, stretch).
        night_usable = min(night_total, cover(horizon, pairs) + pairs * worst_step)
        return demand <= day + credit + night_usable

    lo, hi = now, max(plain, now + 3600.0)
    while not feasible(hi):
        lo, hi = hi, now + 2 * (hi - now)
        if hi - now > 1000 * max(plain - now, 3600.0):
            return lo  # never feasible in reach: what was ruled out is still a bound
    while hi - lo > 60.0:
        mid = (lo + hi) / 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    return lo


def _heat_bound(engine: Engine, runs: _Plates, plain: float) -> float:
    """Every run starts by the horizon less the shortest run; each site starts at most
    `limit` per heat-up time, and in a stretch without people at most one per printer."""
    now = engine.now
    by_site: dict[str, list[bool]] = {}
    for p in engine.printers:
        by_site.setdefault(p.site, []).append(p.auto_eject)
    for site in by_site:
        rules = engine.rules[site]
        if rules.max_heating <= 0 or rules.heat_seconds <= 0:
            return now  # a site without a limit can start any number: no bound from this
    shortest = float(runs.seconds.min())
    until = now + HORIZON_FACTOR * max(plain - now, 3600.0)
    nights = {s: unstaffed_stretches(engine, s, until) for s in by_site}

    def starts_by(horizon: float) -> float:
        last = horizon - shortest
        total = 0.0
        for site, auto in by_site.items():
            rules = engine.rules[site]
            per_window = rules.max_heating
            heat = rules.heat_seconds
            t = now
            for a, b in [*nights[site], (math.inf, math.inf)]:
                day_end = min(a, last)
                if day_end > t:
                    total += per_window * math.ceil((day_end - t) / heat)
                if a >= last:
                    break
                night_end = min(b, last)
                within = per_window * math.ceil((night_end - max(a, t)) / heat)
                total += within if any(auto) else min(within, len(auto))
                t = b
        return total

    n_runs = len(runs.seconds)
    lo, hi = now, max(plain, now + 3600.0)
    while starts_by(hi) < n_runs:
        lo, hi = hi, now + 2 * (hi - now)
    while hi - lo > 60.0:
        mid = (lo + hi) / 2
        if starts_by(mid) >= n_runs:
            hi = mid
        else:
            lo = mid
    return lo


def _release_bound(engine: Engine, runs: _Plates, known: float) -> float:
    """No plan ends before the m longest plates of a cell (one filament, one set of eligible
    printers) are printed, for any m.

    A printer can start a plate of a filament when it is free if it holds it, else once
    someone is there after it is free and has changed it (its release). If the m plates go to
    q distinct printers, one of them is released no sooner than the q-th earliest of the
    cell's, and one prints ceil(m / q) of them one after another, each at least as long as
    the m-th longest, with a clearing between: the plan ends no sooner than the larger of
    the two, whatever q is. `known`, a bound already found, skips the cells that cannot
    pass it.
    """
    e = engine
    if not len(runs.seconds) or not e.printers:
        return e.now
    # The latest release of any printer: next_staffed grows with time, so per site it is
    # that of the printer free last.
    last_free: dict[str, float] = {}
    for slot, f in zip(e.printers, e.free_at_start, strict=True):
        last_free[slot.site] = max(last_free.get(slot.site, f), f)
    latest = max(
        e.staffing[site].next_staffed(f) + e.rules[site].change_seconds
        for site, f in last_free.items()
    )
    group = e.index.group_of[runs.job]
    cell = group * len(runs.states) + runs.state
    printers_in = np.array(
        [sum(len(e.index.class_members[k]) for k in ks) for ks in e.index.group_classes]
    )
    # At q = m a cell gives at most the latest release plus its longest plate, so a cell
    # with at least as many printers as plates looked at can pass `known` only by a plate
    # longer than `known - latest`.
    looked_at = np.minimum(np.bincount(cell)[cell], RELEASE_PLATES)
    wanted = (printers_in[group] < looked_at) | (runs.seconds > known - latest)
    if not wanted.any():
        return e.now
    picked = np.nonzero(wanted)[0]
    order = picked[np.lexsort((-runs.seconds[picked], cell[picked]))]
    cells, first = np.unique(cell[order], return_index=True)
    ends = np.append(first[1:], len(order))
    free = np.array(e.free_at_start, dtype=float)
    clear = min(0.0 if auto else c for auto, c in zip(e._auto_eject, e._clear_of, strict=True))
    best = e.now
    for c, a, b in zip(cells.tolist(), first.tolist(), ends.tolist(), strict=True):
        g, state = divmod(c, len(runs.states))
        plates = runs.seconds[order[a : min(b, a + RELEASE_PLATES)]]
        printers = [i for k in e.index.group_classes[g] for i in e.index.class_members[k]]
        material, colour = runs.states[state]
        release = np.array(
            [
                free[i]
                if e.loaded_at_start[i][0] == material
                and (not colour or e.loaded_at_start[i][1] == colour)
                else e._staffing_of[i].next_staffed(free[i]) + e._change_of[i]
                for i in printers
            ]
        )
        r = np.sort(release)[: len(plates)]
        q = np.arange(1, len(r) + 1)
        for count in range(1, len(plates) + 1):
            p = float(plates[count - 1])
            qs = q[: min(count, len(r))]
            per = np.ceil(count / qs)
            value = np.maximum(r[: len(qs)] + p, r[0] + per * p + (per - 1) * clear)
            best = max(best, float(value.min()))
    return best
