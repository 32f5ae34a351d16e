"""The full plan under site rules: staffed hours, bed clearing, filament changes, heat-up limits.

The engine's dispatch rule (`engine.py`) decides one printer at a time from rank-ordered
queues; played over the whole farm it spends most of its time searching those queues for a
run that suits the coming night, and it swaps filament whenever the most urgent work asks
for it. This plan keeps the engine's routing (each job to one printer class, in the bound's
proportions) and plays a cheaper, night-aware rule on the same simulated clock:

- **Few changes.** Within a class, the printers holding a material and colour serve that
  state's work for as long as they are needed: a printer switches only when its state has
  more printers than its work needs until the class's even end (its capacity is surplus), and
  then to the state short of printers the most. A switch waits for staffed time, so at night a
  printer rather finishes what it holds.
- **Nights.** Plates of one (class, state, urgency band) are kept sorted by length. During the
  day a printer takes the longest plate that ends before the shift does and is shorter than
  the night; in the evening the shortest plate that lasts past the next morning (so the bed is
  full while nobody is there, and long plates are not spent by day); failing both, the longest.
- **Urgency.** Bands (rush, high, due within two days, due within four, the rest, low) are
  served in order; the night-aware choice is made within the most urgent band with work.
- **Heat-up limits.** A start takes the site's next heat-up slot (`calendar.Stagger`).

Everything a decision needs is a few list look-ups and bisections, so a plan of 40,000 jobs
on 5,000 printers takes about as long as the plan without rules.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Mapping

from farm.scheduling.calendar import after_windows
from farm.scheduling.choices import PlateChoices
from farm.scheduling.engine import Engine
from farm.scheduling.pools import DUE_BANDS, Pool, State, bands, needs
from farm.scheduling.replan import MOVE_SHARE, next_pin, place_new_work
from farm.scheduling.types import Assignment, Plan, needs_change


def plan_shifts(
    engine: Engine,
    pins: Mapping[int, list[tuple[int, int, float]]] | None = None,
    promised_end: Mapping[int, float] | None = None,
) -> Plan:
    """The plan under site rules; `pins` are runs a previous plan promised (see `_Shifts`),
    `promised_end` when each printer's promised runs ended in it."""
    return _Shifts(engine, pins, promised_end).run()


class _Shifts(PlateChoices):
    # Set when the clock starts (`run`), read by the steps it calls.
    group_of: list[int]
    latest_end: float
    active: list[int]  # classes that may still have work: only ever fewer

    def __init__(
        self,
        engine: Engine,
        pins: Mapping[int, list[tuple[int, int, float]]] | None = None,
        promised_end: Mapping[int, float] | None = None,
    ) -> None:
        self.e = e = engine
        idx = e.index
        # Runs a previous plan promised: printer position -> [(job position, copies)], kept
        # on their printer in their order (each printer replays them, re-timed); what is
        # left of those jobs, and new work, is slotted in among them (`replan.py`).
        self.pins: dict[int, deque[tuple[int, int, float]]] = {}
        for i, runs in (pins or {}).items():
            for j, copies, start in runs:
                kept = min(copies, e.remaining[j])
                if kept > 0 and e.primary[j] >= 0:
                    e.remaining[j] -= kept
                    self.pins.setdefault(i, deque()).append((j, kept, start))
        band_of = bands(e)
        self.band_of = band_of.tolist()
        if pins is not None:
            place_new_work(e, self.pins, self.band_of, promised_end or {})
        n_classes = len(idx.class_members)
        self.n_bands = 3 + len(DUE_BANDS)
        self.clear = [0.0 if p.auto_eject else e.rules[p.site].clear_seconds for p in e.printers]
        # Seconds of promised runs each printer has left, and promised runs that may still
        # go to a printer that has nothing left (`_take_pin`).
        self.pin_left = [0.0] * len(e.printers)
        for i, runs_of in self.pins.items():
            k = e.class_of[i]
            self.pin_left[i] = sum(e.seconds(j, k) * c + self.clear[i] for j, c, _ in runs_of)
        self.pin_budget = int(MOVE_SHARE * sum(len(r) for r in self.pins.values()))
        # Per class, its printers with promised runs, latest predicted end first.
        self.late: dict[int, list[tuple[float, int]]] = {}
        for i in self.pins:
            self.late.setdefault(e.class_of[i], []).append((-(e.free[i] + self.pin_left[i]), i))
        for heap in self.late.values():
            heapq.heapify(heap)

        # Plates: one entry per run, its copies and its seconds on its class's model.
        remaining, primary, per_plate_of = e.remaining, e.primary, e.per_plate
        jobs = [j for j in range(len(e.work)) if remaining[j] and primary[j] >= 0]
        self.plate_job: list[int] = []
        self.plate_copies: list[int] = []
        self.plate_seconds: list[float] = []
        # Per plate, its class and the work it takes off there (its seconds and a clearing).
        self.plate_class: list[int] = []
        self.plate_routed: list[float] = []
        class_clear = [self.clear[m[0]] if m else 0.0 for m in idx.class_members]
        grouped: dict[tuple[int, str, str, int], tuple[list[float], list[int]]] = {}
        band_list, work_of = self.band_of, e.work
        plate_job, plate_copies, plate_seconds = (
            self.plate_job,
            self.plate_copies,
            self.plate_seconds,
        )
        plate_class, plate_routed = self.plate_class, self.plate_routed
        for j in jobs:
            k = primary[j]
            w = work_of[j]
            per_plate, left = per_plate_of[j], remaining[j]
            per_copy = e.seconds(j, k)
            key = (k, w.material, w.colour.lower(), band_list[j])
            found = grouped.get(key)
            if found is None:
                found = grouped[key] = ([], [])
            lengths, plates = found
            # Full plates while more than one plate is left, then the rest.
            if left <= per_plate:
                copies_of = [left]
            else:
                full, rest = divmod(left, per_plate)
                copies_of = [per_plate] * full
                if rest:
                    copies_of.append(rest)
            first = len(plate_job)
            clear_k = class_clear[k]
            for copies in copies_of:
                seconds = per_copy * copies
                lengths.append(seconds)
                plate_seconds.append(seconds)
                plate_routed.append(seconds + clear_k)
            n = len(copies_of)
            plates.extend(range(first, first + n))
            plate_job.extend([j] * n)
            plate_copies.extend(copies_of)
            plate_class.extend([k] * n)

        self.states: list[dict[tuple[str, str], State]] = [{} for _ in range(n_classes)]
        # (class, material) -> its states, every colour: any-colour work is theirs to share.
        self.of_material: dict[tuple[int, str], list[State]] = {}
        self.class_work = [0.0] * n_classes
        class_plates: list[list[float]] = [[] for _ in range(n_classes)]
        for (k, material, colour, band), (lengths, plates) in grouped.items():
            class_plates[k].extend(lengths)
            state = self._state(k, material, colour)
            order = sorted(range(len(lengths)), key=lengths.__getitem__)
            state.pools[band] = Pool([lengths[o] for o in order], [plates[o] for o in order])
            work = sum(lengths) + class_clear[k] * len(lengths)
            state.work += work
            self.class_work[k] += work
        # Per material and class: all its states' work and printers (any colour serves it).
        self.held: list[tuple[str, str]] = []
        self.own: list[State] = []  # per printer: the state of the filament it holds
        for i in range(len(e.printers)):
            material, colour = e.loaded[i]
            state = self._state(e.class_of[i], material, colour)
            state.count += 1
            state.sumfree += e.free[i]
            self.held.append((material, colour))
            self.own.append(state)
        self.class_count = [len(m) for m in idx.class_members]
        self.class_sumfree = [sum(e.free[i] for i in m) for m in idx.class_members]
        # How long the night after each printer's site's shift lasts, roughly: plates at
        # least this long are kept for evenings.
        self.night = {s: self._night_length(s) for s in e.rules}
        self.reserve = self._reserve(class_plates)
        self.class_longest = [max(lengths, default=0.0) for lengths in class_plates]

    def _state(self, k: int, material: str, colour: str) -> State:
        states = self.states[k]
        state = states.get((material, colour))
        if state is None:
            state = states[(material, colour)] = State(material, colour, self.n_bands)
            self.of_material.setdefault((k, material), []).append(state)
        return state

    # -- the clock ---------------------------------------------------------------------

    def run(self) -> Plan:
        e = self.e
        plan = Plan(unplaceable=dict(e.unplaceable), lower_bound=e.lower_bound)
        self.out = out = plan.assignments
        self.donors = self._donors()
        self.donor_sets = [set(d) for d in self.donors]
        self.active = list(range(len(self.donors)))  # classes that may have work left
        self.group_of = e.index.group_of.tolist()
        # Per class, the job groups it may print (a set look-up per plate when stealing).
        self.can_take: list[set[int]] = [set() for _ in e.index.class_members]
        for g, classes in enumerate(e.index.group_classes):
            for k in classes:
                self.can_take[k].add(g)
        self.latest_end = e.lower_bound
        ready = [(e.free[i], i) for i in range(len(e.printers))]
        heapq.heapify(ready)
        heappop, heapreplace = heapq.heappop, heapq.heapreplace
        pins = self.pins
        # Looked up once: the loop runs once per planned run (88,000 at the bench's size).
        # A run without a filament change (almost all) is committed and started here,
        # inlined: the same steps as `_commit` and `_start`, which do it for the others.
        # `latest_end` is kept in a local and handed to `self` around calls that read it.
        staffing_of, class_of, own_of = e._staffing_of, e.class_of, self.own
        class_work, class_sumfree, class_count = (
            self.class_work,
            self.class_sumfree,
            self.class_count,
        )
        auto_eject, windows_of, stagger_of = e._auto_eject, e.windows, e._stagger_of
        clear, free_of = self.clear, e.free
        plate_seconds, plate_job, plate_copies = (
            self.plate_seconds,
            self.plate_job,
            self.plate_copies,
        )
        plate_class, plate_routed = self.plate_class, self.plate_routed
        job_ids = [w.job_id for w in e.work]
        printer_ids = [p.id for p in e.printers]
        append = out.append
        ceil = math.ceil
        latest_end = self.latest_end
        held_of, change_of = self.held, e._change_of
        while ready:
            # The printer stays at the heap's top while it is decided: its next ready time
            # replaces it there (one sift instead of a pop and a push).
            t, i = ready[0]
            if pins and i in pins and pins[i]:
                self.latest_end = latest_end
                heapreplace(ready, (self._start_pinned(i, t), i))
                latest_end = self.latest_end
                continue
            staffing = staffing_of[i]
            # `staffing.next_staffed(t) == t`, its remembered stretches inlined.
            if staffing.always or staffing._lo <= t < staffing._hi:
                staffed = True
            elif staffing._ulo <= t < staffing._uhi:
                staffed = False
            else:
                staffed = staffing.next_staffed(t) == t
            # `_source`'s usual case, inlined: the printer's own state still needs it.
            k = class_of[i]
            own = own_of[i]
            end = (class_work[k] + class_sumfree[k]) / (class_count[k] or 1)
            change = False
            if own.work > 0 and (own.count * end - own.sumfree - own.work < end - t or not staffed):
                source = own
            else:
                self.latest_end = latest_end
                found = self._source(i, t, staffed)
                if found is None:
                    stolen = self._steal(i, t)
                    if stolen is None:
                        free = self._take_pin(i, t)
                        latest_end = self.latest_end
                        if free is not None:
                            heapreplace(ready, (free, i))
                        else:
                            heappop(ready)
                        continue
                    state, pool, h, duration = stolen
                    free = self._commit(i, t, state, pool, h, duration)
                    latest_end = self.latest_end
                    heapreplace(ready, (free, i))
                    continue
                source = found
                change = needs(source, *held_of[i])
            picked = self._pick(source, i, staffing.next_staffed(t) + change_of[i] if change else t)
            if picked is None:
                # Its plates are all taken; what `work` still says is rounding left by
                # the subtractions. Dropping the printer here lost it for the rest of
                # the plan (and with it, on a farm, thousands of copies): ask again.
                source.work = 0.0
                continue
            pool, h = picked
            if change:
                self.latest_end = latest_end
                free = self._commit(i, t, source, pool, h, plate_seconds[pool.plates[h]])
                latest_end = self.latest_end
                heapreplace(ready, (free, i))
                continue
            # `_commit` and `_start` for a run without a change, inlined: most runs.
            pool.alive[h] = False
            pool.live -= 1
            plate = pool.plates[h]
            routed = plate_routed[plate]
            source.work -= routed
            class_work[plate_class[plate]] -= routed
            duration = plate_seconds[plate]
            start = t
            windows = windows_of[i]
            if windows:
                start = after_windows(start, duration, windows)
            stagger = stagger_of[i]
            if stagger.active:
                if windows or not stagger.align:
                    start = stagger.take(start)
                    while windows and after_windows(start, duration, windows) != start:
                        start = stagger.take(after_windows(start, duration, windows))
                else:
                    # `stagger.take(start)`, inlined
                    step = stagger.slot
                    slot = ceil(start / step)
                    used = stagger._used
                    count = used.get(slot, 0)
                    if count >= stagger.cap:
                        slot = stagger._find(slot)
                        count = used.get(slot, 0)
                    used[slot] = count + 1
                    if count + 1 >= stagger.cap:
                        stagger._next_free[slot] = slot + 1
                    slotted = slot * step
                    if slotted > start:
                        start = slotted
            end = start + duration
            # `free` of `_start`: the run's end, the wait for someone to clear the bed (none
            # when someone is there or the printer ejects), the clearing.
            if auto_eject[i] or staffing.always or staffing._lo <= end < staffing._hi:
                free = end + 0.0 + clear[i]
            elif staffing._ulo <= end < staffing._uhi:
                free = end + (staffing._uhi - end) + clear[i]
            else:
                free = end + (staffing.next_staffed(end) - end) + clear[i]
            own.sumfree += free - t
            class_sumfree[k] += free - t
            free_of[i] = free
            if end > latest_end:
                latest_end = end
            append(
                Assignment(
                    job_ids[plate_job[plate]], printer_ids[i], plate_copies[plate], start, end
                )
            )
            heapreplace(ready, (free, i))
        self.latest_end = latest_end
        for j in range(len(e.work)):
            if e.primary[j] >= 0:
                e.remaining[j] = 0
        return plan

    def _commit(
        self, i: int, t: float, source: State, pool: Pool, h: int, duration: float
    ) -> float:
        """Start the plate on printer i (ready at t); returns when it is ready again."""
        material, colour = self.held[i]
        change = source is not self.own[i] and needs(source, material, colour)
        # `pool.take(h)`, inlined
        pool.alive[h] = False
        pool.live -= 1
        plate = pool.plates[h]
        # The work left where the plate was routed (a stolen plate's class is another's).
        k2 = self.plate_class[plate]
        routed = self.plate_routed[plate]
        source.work -= routed
        self.class_work[k2] -= routed
        new = (source.material, source.colour) if change else (material, colour)
        return self._start(i, t, self.plate_job[plate], self.plate_copies[plate], duration, new)

    def _start(
        self, i: int, t: float, j: int, copies: int, duration: float, new: tuple[str, str]
    ) -> float:
        """Start `copies` of job j on printer i (ready at t), holding `new` for it."""
        e = self.e
        k = e.class_of[i]
        staffing = e._staffing_of[i]
        old = self.held[i]
        change = new != old
        start = staffing.next_staffed(t) + e._change_of[i] if change else t
        windows = e.windows[i]
        if windows:
            start = after_windows(start, duration, windows)
        stagger = e._stagger_of[i]
        if stagger.active:
            start = stagger.take(start)
            while windows and after_windows(start, duration, windows) != start:
                start = stagger.take(after_windows(start, duration, windows))
        end = start + duration
        wait = 0.0 if e._auto_eject[i] else staffing.next_staffed(end) - end
        free = end + wait + self.clear[i]
        held = self.own[i]
        if change:
            held.count -= 1
            held.sumfree -= t
            self.held[i] = new
            e.loaded[i] = new
            held = self.states[k].get(new) or self._state(k, *new)
            self.own[i] = held
            held.count += 1
            held.sumfree += t
        held.sumfree += free - t
        self.class_sumfree[k] += free - t
        e.free[i] = free
        if end > self.latest_end:
            self.latest_end = end
        self.out.append(Assignment(e.work[j].job_id, e.printers[i].id, copies, start, end, change))
        return free

    def _start_pinned(self, i: int, t: float) -> float:
        """The next run a previous plan promised printer i: the next in its order while that
        starts when promised, else the one of its runs that suits the clock (`next_pin`)."""
        e = self.e
        runs = self.pins[i]
        n = next_pin(e, runs, self.band_of, i, t)
        j, copies, _ = runs[n]
        del runs[n]
        w = e.work[j]
        material, colour = self.held[i]
        new = (material, colour)
        if needs_change(material, colour, w):
            new = (w.material, w.colour.lower())
        duration = e.seconds(j, e.class_of[i]) * copies
        self.pin_left[i] -= duration + self.clear[i]
        return self._start(i, t, j, copies, duration, new)

    def _take_pin(self, i: int, t: float) -> float | None:
        """Printer i has nothing left: it takes the last promised run of the printer (of its
        class or one whose work it may print) whose promised runs end latest, if it ends that
        run before the owner would (a kept plan's late printers hand their tail to idle
        ones; at most `MOVE_SHARE` of the promised runs move). Returns when printer i is
        ready again, or None."""
        e = self.e
        if self.pin_budget <= 0:
            return None
        k = e.class_of[i]
        best: tuple[float, int, int] | None = None  # (owner's end, owner, class)
        for k2 in (k, *self.donors[k]):
            o = self._latest(k2)
            if o < 0 or o == i:
                continue
            j = self.pins[o][-1][0]
            if k2 != k and self.group_of[j] not in self.can_take[k]:
                continue
            end = e.free[o] + self.pin_left[o]
            if best is None or end > best[0]:
                best = (end, o, k2)
        if best is None:
            return None
        end, o, k2 = best
        runs = self.pins[o]
        j, copies, _ = runs[-1]
        duration = e.seconds(j, k) * copies
        # Only if it ends the run before the owner's promised runs would end (counted without
        # the nights they wait, so a late owner ends later still: asking for a margin on top
        # left seed 3's kept plan at 85.2 h instead of 81.3 h).
        if end <= t + duration + self.clear[i]:
            return None
        runs.pop()
        self.pin_left[o] -= e.seconds(j, k2) * copies + self.clear[o]
        heapq.heapreplace(self.late[k2], (-(e.free[o] + self.pin_left[o]), o))
        self.pin_budget -= 1
        w = e.work[j]
        material, colour = self.held[i]
        new = (material, colour)
        if needs_change(material, colour, w):
            new = (w.material, w.colour.lower())
        return self._start(i, t, j, copies, duration, new)

    def _latest(self, k: int) -> int:
        """The printer of class k whose promised runs end latest now, or -1."""
        heap = self.late.get(k)
        e, pins = self.e, self.pins
        while heap:
            stored, o = heap[0]
            if not pins.get(o):
                heapq.heappop(heap)
                continue
            end = e.free[o] + self.pin_left[o]
            if -stored == end:
                return o
            heapq.heapreplace(heap, (-end, o))
        return -1
