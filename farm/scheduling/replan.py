"""A replan that keeps the last plan: new work goes where there is room, not after everything.

The kept plan replays each printer's promised runs in their order (`shifts._Shifts` with
pins). Work the last plan did not have (new jobs, copies of a failed run, runs of a printer
that is gone) used to be planned after every promised run, so a long new plate started when
the whole farm was done and the kept plan lost to a fresh one, which moves nearly every run.
Here each such plate is given, most urgent and longest first, to the eligible printer that
can start it first once its promised runs are done and its bed cleared (one already holding
its filament where that is no later than a change is worth): rush work first on a printer
that holds its filament and whose promised runs, pushed back by it, still end by the last
plan's end and each by its job's due date (its promise, once it has one); else on the
printer that starts it first, at the first place after the runs as urgent as it where it
ends in time and pushes no run past its due date, and before promised runs of lower urgency
only when that is the one way it ends in time (on the company farm through the farm's
services, rush work put first broke Monday's promises of weekend jobs by 2-10 hours); the
rest after them (slotting more in front shifts every promised run into the nights and cost
more than it saved). A printer pushed past the last plan's end
hands its last promised runs to printers that finish them sooner (at most `MOVE_SHARE` of
the runs move). The promised runs otherwise stay on their printers; only their times shift.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Mapping, MutableMapping, Sequence

from farm.scheduling.engine import Engine
from farm.scheduling.types import needs_change

Pins = MutableMapping[int, deque[tuple[int, int, float]]]  # (job, copies, promised start)
# A heap per (class, material, colour) of printers holding it at their last promised run, and
# per (class, material, None) whatever the colour: entries are (ready, printer position).
_Key = tuple[int, str, str | None]
URGENT_BAND = 0  # rush: before promised runs of lower urgency where needed; the rest after
# Promised runs a replan may hand to another printer, as a share of them: what it takes to
# keep a long new plate from ending after the last plan did.
MOVE_SHARE = 0.01
NOT_PROMISED = float("-inf")  # the promised start of a run the last plan did not have


def place_new_work(
    engine: Engine,
    pins: Pins,
    band_of: Sequence[int],
    promised_end: Mapping[int, float],
) -> None:
    """Pin every copy still waiting in `engine.remaining` onto a printer (see the module).

    `promised_end` is when each printer's promised runs ended in the last plan (its nights
    included); a printer is ready at the later of that and its runs' total from its free time.
    """
    e = engine
    plates: list[tuple[int, float, int, int]] = []  # (band, -seconds, job, copies)
    for j, left in enumerate(e.remaining):
        if left <= 0 or e.primary[j] < 0:
            continue
        per_plate = e.per_plate[j]
        seconds = e.seconds(j, e.primary[j])
        while left > 0:
            copies = min(per_plate, left)
            left -= copies
            plates.append((int(band_of[j]), -seconds * copies, j, copies))
    if not plates:
        return
    plates.sort()
    clear = [0.0 if p.auto_eject else e.rules[p.site].clear_seconds for p in e.printers]
    ready, held, stretch = _ready_and_held(e, pins, clear, promised_end)
    heaps: dict[_Key, list[tuple[float, int]]] = {}

    def push(i: int) -> None:
        k = e.class_of[i]
        material, colour = held[i]
        for key in ((k, material, colour), (k, material, None), (k, "", None)):
            heapq.heappush(heaps.setdefault(key, []), (ready[i], i))

    def top(key: _Key) -> int:
        """The first-ready printer of `key` (stale entries dropped), or -1."""
        heap = heaps.get(key)
        while heap:
            at, i = heap[0]
            material, colour = held[i]
            if at == ready[i] and (
                key[1] == "" or (material == key[1] and key[2] in (None, colour))
            ):
                return i
            heapq.heappop(heap)
        return -1

    for i in range(len(e.printers)):
        push(i)
    idx = e.index
    penalty = e.options.change_penalty_seconds
    target = max(promised_end.values(), default=e.now)
    placed: set[tuple[int, int, int]] = set()  # (printer, job, copies) put here now

    def best_for(j: int, copies: int, *, within: float, besides: int = -1) -> int:
        """The printer that would finish `copies` of job j first, ending by `within`
        (a printer already holding its filament unless a change is worth it), or -1."""
        w = e.work[j]
        colour = w.colour.lower() or None
        best, best_cost = -1, 0.0
        for k in idx.group_classes[idx.group_of[j]]:
            seconds = e.seconds(j, k) * copies
            site_cost = penalty if 0 <= e.pref[j] != e.class_site_code[k] else 0.0
            for key, extra in (((k, w.material, colour), 0.0), ((k, "", None), penalty)):
                i = top(key)
                if i < 0 or i == besides or ready[i] + seconds > within:
                    continue
                cost = ready[i] + seconds + site_cost + extra
                if best < 0 or cost < best_cost:
                    best, best_cost = i, cost
        return best

    def front_for(j: int, copies: int) -> int:
        """The printer to start urgent `copies` of job j first, before its promised runs:
        one that holds the filament now and whose runs, pushed back by this plate, still end
        by the last plan's end and each by its job's due date (its promise, once it has one),
        the earliest free of those, or -1."""
        w = e.work[j]
        best, best_at = -1, 0.0
        for k in idx.group_classes[idx.group_of[j]]:
            seconds = e.seconds(j, k) * copies
            for i in idx.class_members[k]:
                if needs_change(*e.loaded[i], w) or i in fronted:
                    continue
                delta = (seconds + clear[i]) * stretch[i]
                if ready[i] + delta > target or slack(i)[1][0] < delta:
                    continue
                if best < 0 or e.free[i] < best_at:
                    best, best_at = i, e.free[i]
        return best

    def give_front(i: int, j: int, copies: int) -> None:
        seconds = e.seconds(j, e.class_of[i]) * copies
        ready[i] += (seconds + clear[i]) * stretch[i]
        pins.setdefault(i, deque()).appendleft((j, copies, NOT_PROMISED))
        placed.add((i, j, copies))
        fronted.add(i)
        slacks.pop(i, None)
        push(i)

    def give(i: int, j: int, copies: int, band: int) -> None:
        w = e.work[j]
        start = ready[i]
        if needs_change(*held[i], w):
            start = e._staffing_of[i].next_staffed(start) + e._change_of[i]
            held[i] = (w.material, w.colour.lower() or held[i][1])
        end = start + e.seconds(j, e.class_of[i]) * copies
        runs = pins.setdefault(i, deque())
        if band <= URGENT_BAND:
            runs.insert(position(i, j, copies, band, end), (j, copies, NOT_PROMISED))
        else:
            runs.append((j, copies, NOT_PROMISED))
        ready[i] = _cleared(e, i, end, clear)
        slacks.pop(i, None)
        placed.add((i, j, copies))
        push(i)

    slacks: dict[int, tuple[list[float], list[float]]] = {}

    def slack(i: int) -> tuple[list[float], list[float]]:
        """(when printer i could start a run put at each position of its runs, how far the
        runs from each position on may be pushed back before one ends after its job's due
        date): from a replay of its runs as the last plan timed them. A run the replay
        already ends late does not count (pushing it back breaks nothing new)."""
        if i in slacks:
            return slacks[i]
        k, t, holds = e.class_of[i], e.free[i], e.loaded[i]
        at: list[float] = []
        room: list[float] = []
        for j, copies, promised in pins.get(i, ()):
            at.append(t)
            w = e.work[j]
            if needs_change(*holds, w):
                t += e._change_of[i]
                holds = (w.material, w.colour.lower() or holds[1])
            end = max(t, promised) + e.seconds(j, k) * copies
            room.append(math.inf if w.due is None or end > w.due else w.due - end)
            t = end + clear[i]
        at.append(t)
        suffix = [math.inf] * len(at)
        for n in range(len(room) - 1, -1, -1):
            suffix[n] = min(room[n], suffix[n + 1])
        slacks[i] = (at, suffix)
        return slacks[i]

    def position(i: int, j: int, copies: int, band: int, last: float) -> int:
        """Where among printer i's runs rush `copies` of job j go (`last`: when they would
        end after all of them). After every run as urgent or more; then the first place
        where the runs it pushes back all still end by their due dates and it ends by its
        own (its due date, else within `due_bucket_seconds` of now); failing that, the
        first place where it ends by its own, pushing promised runs back; failing that too,
        the first place that pushes none past its due date."""
        runs = pins.get(i) or deque()
        first = next((n for n, r in enumerate(runs) if band_of[r[0]] > band), len(runs))
        at, suffix = slack(i)
        seconds = e.seconds(j, e.class_of[i]) * copies
        delta = (seconds + clear[i]) * stretch[i]
        due = e.work[j].due
        if due is None:
            due = e.now + e.options.due_bucket_seconds
        spots = range(first, len(runs) + 1)

        def in_time(n: int) -> bool:
            return (last if n == len(runs) else at[n] + seconds) <= due

        keeps = [n for n in spots if suffix[n] >= delta]
        return next((n for n in keeps if in_time(n)), first if in_time(first) else keeps[0])

    fronted: set[int] = set()  # printers given an urgent plate first: one each
    budget = int(MOVE_SHARE * sum(len(runs) for runs in pins.values()))
    for band, _, j, copies in plates:
        if band <= URGENT_BAND:
            i = front_for(j, copies)
            if i >= 0:
                give_front(i, j, copies)
                e.remaining[j] -= copies
                continue
        i = best_for(j, copies, within=float("inf"))
        if i < 0:
            continue  # no printer of its classes: the plan's usual pass reports it
        give(i, j, copies, band)
        e.remaining[j] -= copies
        # Past the last plan's end: hand this printer's last promised runs to printers that
        # finish them before it, so one long new plate does not make the whole plan longer.
        while ready[i] > target and budget > 0:
            runs = pins[i]
            last = next(
                (n for n in range(len(runs) - 1, -1, -1) if (i, *runs[n][:2]) not in placed), -1
            )
            if last < 0:
                break
            j2, copies2, _ = runs[last]
            seconds = e.seconds(j2, e.class_of[i]) * copies2 + clear[i]
            other = best_for(j2, copies2, within=min(target, ready[i] - seconds), besides=i)
            if other < 0:
                break
            del runs[last]
            slacks.pop(i, None)
            ready[i] -= seconds * stretch[i]
            push(i)
            give(other, j2, copies2, int(band_of[j2]))
            budget -= 1


def _ready_and_held(
    e: Engine, pins: Pins, clear: list[float], promised_end: Mapping[int, float]
) -> tuple[list[float], list[tuple[str, str]], list[float]]:
    """When each printer is done with its promised runs, the filament it then holds, and
    how much longer than their print time its runs took in the last plan (nights waiting
    for someone to clear the bed): a run added or taken away moves its end by that much."""
    ready = list(e.free)
    held = list(e.loaded)
    stretch = [1.0] * len(ready)
    for i, runs in pins.items():
        total = ready[i]
        for j, copies, _ in runs:
            w = e.work[j]
            total += e.seconds(j, e.class_of[i]) * copies + clear[i]
            if needs_change(*held[i], w):
                total += e._change_of[i]
                held[i] = (w.material, w.colour.lower() or held[i][1])
        ready[i] = _cleared(e, i, max(total, promised_end.get(i, total)), clear)
        if total > e.free[i]:
            stretch[i] = (ready[i] - e.free[i]) / (total - e.free[i])
    return ready, held, stretch


def _cleared(e: Engine, i: int, end: float, clear: list[float]) -> float:
    """When printer i can start again after a run ending at `end`: a person clears its bed
    first, so a run ending at night keeps it until the morning."""
    if e._auto_eject[i]:
        return end
    return e._staffing_of[i].next_staffed(end) + clear[i]


def next_pin(
    e: Engine, runs: deque[tuple[int, int, float]], band_of: Sequence[int], i: int, t: float
) -> int:
    """Which of printer i's promised runs it starts when ready at `t` (a position in its pins).

    The next in order while the printer is on time for it (a replan of an unchanged farm
    replays the last plan to the second), or while it still ends when someone is there to
    clear the bed. A printer running late (new work slotted in before, a run that took
    longer) picks among its own runs of the most urgent band the one that suits the clock,
    as the plan does: by day the longest that ends before the shift does, in the evening the
    shortest that lasts past the next morning, failing both the longest. Its runs stay its own.
    (The most urgent band with a run that suits is served first.)
    """
    j, copies, promised = runs[0]
    if len(runs) == 1 or e._auto_eject[i] or t <= promised + 1.0:
        return 0
    # Late: judged at the start the site's heat-up slots allow, which is later than ready
    # in the evening rush (a run that fits the shift from `t` may not from there).
    t = e._stagger_of[i].peek(t)
    k = e.class_of[i]
    staffing = e._staffing_of[i]
    end = t + e.seconds(j, k) * copies
    if staffing.next_staffed(end) - end <= e.options.night_wait_seconds:
        return 0
    # (band, seconds, position): the most urgent band that has a run that suits comes first;
    # among the runs of the filament it holds, while it has any (a change waits for the
    # morning and an operator: a rush run of another filament picked to cover the night
    # cost the night and two changes).
    held = e.loaded[i]
    own = [n for n, r in enumerate(runs) if not needs_change(*held, e.work[r[0]])] or range(
        len(runs)
    )
    lengths = sorted((band_of[runs[n][0]], e.seconds(runs[n][0], k) * runs[n][1], n) for n in own)
    morning = staffing.next_staffed(t)
    if morning == t:
        left = staffing.shift_end(t) - t
        fits = [x for x in lengths if x[1] <= left]
        if fits:
            band = fits[0][0]
            return max(x for x in fits if x[0] == band)[2]
        morning = staffing.next_staffed(t + left)
    covering = [x for x in lengths if x[1] >= morning - t]
    if covering:
        return covering[0][2]
    return max(lengths, key=lambda x: x[1])[2]
