"""What a printer does next in the site-rule plan (`shifts.py`): which filament state it
serves (its own while it is needed, else the one short of printers the most, if a change is
worth it), which plate of it (night-aware: by day the longest that ends before the shift and
is not kept for a night, in the evening the shortest that lasts past the morning), and, in the
plan's tail, which plate of another class it may take (stealing).

`PlateChoices` holds these decisions; `shifts._Shifts` keeps the state they read.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from farm.scheduling.engine import Engine
from farm.scheduling.pools import Pool, State

TAIL = 2.0  # a class is in its tail when its work per printer is this many longest plates
STEAL_LOOK = 3  # plates looked at per pool when stealing: the tail only, kept cheap
STEAL_POOLS = 16  # pools looked at per steal, at most
# By day a plate is chosen to end this long before the shift does: a plan packed to the
# minute loses a night on every printer whose run is late by a few minutes (a heat-up slot
# taken by new work, an estimate a little short) and ends at 22:01. On the bench farm this
# also shortened the plan (79.8 h to 78.9 h).
SHIFT_MARGIN = 900.0


class PlateChoices:
    """The decisions of the site-rule plan; the state they read is set by `shifts._Shifts`."""

    e: Engine
    states: list[dict[tuple[str, str], State]]
    of_material: dict[tuple[int, str], list[State]]
    held: list[tuple[str, str]]
    class_work: list[float]
    class_count: list[int]
    class_sumfree: list[float]
    class_longest: list[float]
    reserve: list[float]
    plate_job: list[int]
    plate_copies: list[int]
    can_take: list[set[int]]
    donor_sets: list[set[int]]
    group_of: list[int]
    latest_end: float
    active: list[int]

    def _reserve(self, class_plates: list[list[float]]) -> list[float]:
        """Per class, the plate length kept for nights: by day a printer takes shorter ones.

        As many plates as the class has printer-nights before the plan's bound are kept,
        the longest: each can keep a bed busy through one night.
        """
        e = self.e
        out = []
        for k, lengths in enumerate(class_plates):
            members = e.index.class_members[k]
            site = e.index.class_site[k]
            staffing = e.staffing[site]
            if staffing.always or not lengths or not members:
                out.append(math.inf)
                continue
            nights, t = 0, e.now
            while t < e.lower_bound:
                end = staffing.shift_end(staffing.next_staffed(t))
                if math.isinf(end) or end >= e.lower_bound:
                    break
                nights += 1
                t = staffing.next_staffed(end)
            kept = nights * len(members)
            if kept <= 0:
                out.append(math.inf)
                continue
            ordered = sorted(lengths, reverse=True)
            out.append(ordered[kept - 1] if kept <= len(ordered) else 0.0)
        return out

    def _night_length(self, site: str) -> float:
        staffing = self.e.staffing[site]
        if staffing.always:
            return math.inf
        t = self.e.now
        end = staffing.shift_end(staffing.next_staffed(t))
        if math.isinf(end):
            return math.inf
        return staffing.next_staffed(end) - end

    # -- choosing what a printer serves ------------------------------------------------

    def _even_end(self, k: int) -> float:
        return (self.class_work[k] + self.class_sumfree[k]) / max(1, self.class_count[k])

    @staticmethod
    def _surplus(state: State, end: float) -> float:
        """Capacity its printers have until `end` beyond the work it has left."""
        return state.count * end - state.sumfree - state.work

    def _source(self, i: int, t: float, staffed: bool) -> State | None:
        """The state printer i serves next: its own while it is needed, else the one short
        of printers the most, if that one would otherwise overrun the class's even end by
        more than a change is worth (`PlanOptions.change_penalty_seconds`).
        """
        e = self.e
        k = e.class_of[i]
        states = self.states[k]
        material, colour = self.held[i]
        own = states[(material, colour)]
        end = (self.class_work[k] + self.class_sumfree[k]) / (self.class_count[k] or 1)
        mine = end - t
        # The usual case, inlined: its own state still needs it.
        if own.work > 0 and (own.count * end - own.sumfree - own.work < mine or not staffed):
            return own
        anyc = states.get((material, "")) if colour else None
        if anyc is not None and anyc.work > 0:
            if not staffed:
                return anyc
            surplus = 0.0  # `_material_surplus`, inlined
            for s in self.of_material[(k, material)]:
                surplus += s.count * end - s.sumfree - s.work
            if surplus < mine:
                return anyc
        # Against when the plan ends anyway: late in the plan the class's even end has
        # passed, and a state a few plates behind it is not worth an operator's change.
        end = max(end, self.latest_end)
        best: State | None = None
        worst = -math.inf
        of_material = self.of_material
        # `_surplus` and `_material_surplus` inlined: this loop runs for every printer whose
        # own state has printers to spare.
        for state in states.values():
            if state.work <= 0 or state is own or state is anyc:
                continue
            if state.colour:
                count = state.count
                surplus = count * end - state.sumfree - state.work
            else:
                count = 0
                surplus = 0.0
                for s in of_material[(k, state.material)]:
                    count += s.count
                    surplus += s.count * end - s.sumfree - s.work
            overrun = math.inf if count == 0 else -surplus / count
            if overrun > worst:
                best, worst = state, overrun
        if best is not None and worst > e.options.change_penalty_seconds:
            return best
        if own.work > 0:
            return own
        if anyc is not None and anyc.work > 0:
            return anyc
        return None

    def _material_surplus(self, k: int, material: str, end: float) -> float:
        """Capacity of every printer holding `material` beyond all of its work (any colour)."""
        surplus = 0.0
        for s in self.of_material[(k, material)]:
            surplus += s.count * end - s.sumfree - s.work
        return surplus

    # -- choosing which plate ----------------------------------------------------------

    def _pick(self, state: State, i: int, start: float) -> tuple[Pool, int] | None:
        """The plate printer i starts at `start`: night-aware, within the most urgent band.

        Called once per planned run: the pools' and the calendar's usual cases are inlined
        (`Pool.longest`, `Pool.longest_at_most`, `Staffing.next_staffed`, `shift_end`)."""
        e = self.e
        # The first band with plates left (bands only ever empty, so it only moves on).
        pools = state.pools
        n_bands = len(pools)
        b = state.first
        while b < n_bands and (pools[b] is None or not pools[b].live):  # type: ignore[union-attr]
            b += 1
        state.first = b
        if b == n_bands:
            return None
        pool = pools[b]
        assert pool is not None
        k = e.class_of[i]
        auto = e._auto_eject[i]
        class_work, tail = self.class_work[k], TAIL * self.class_count[k]
        # The class's longest plate at the start bounds every state's now: most decisions
        # are far from the tail and skip the look over the bands.
        near_tail = class_work <= tail * self.class_longest[k]
        if auto and not near_tail:
            return pool, pool.longest()
        if near_tail:
            longest_pool, longest = pool, 0.0
            for candidate in pools:
                if candidate is not None and candidate.live:
                    h = candidate.top  # `candidate.longest()`, inlined
                    if not candidate.alive[h]:
                        h = candidate.top = candidate._left_of(h)
                    length = candidate.lengths[h]
                    if length > longest:
                        longest_pool, longest = candidate, length
            if class_work <= tail * longest:
                # The class's last stretch: longest first whatever its urgency (a long plate
                # started last is what makes a plan end late), unless it would end at night.
                pool = longest_pool
                h = pool.longest()
                staffing = e._staffing_of[i]
                end = start + longest
                # Ending at night is fine for the class's last runs: the plan ends with them.
                if (
                    auto
                    or staffing.next_staffed(end) - end <= e.options.night_wait_seconds
                    or end >= self._even_end(k)
                ):
                    return pool, h
        if auto:
            return pool, pool.longest()
        staffing = e._staffing_of[i]
        if not staffing.always and staffing._lo <= start < staffing._hi:
            shift_end = staffing._hi  # someone is there: the stretch remembered says so
        else:
            morning = staffing.next_staffed(start)
            if morning > start:  # nobody there now: something that lasts until the morning
                return self._covering(state, morning - start) or self._longest(state)
            shift_end = staffing.shift_end(start)
            if math.isinf(shift_end):
                return pool, pool.longest()
        left = shift_end - start - SHIFT_MARGIN
        # By day: the longest plate that ends before the shift does and is not kept for a
        # night, of the most urgent band; else of any band; else a longer one that still
        # ends before the shift does.
        reserve = self.reserve[k]
        # `longest_at_most` inlined: this is the usual decision by day.
        h = bisect_right(pool.lengths, left if left < reserve else reserve) - 1
        if h >= 0 and not pool.alive[h]:
            h = pool._left_of(h)
        if h >= 0:
            return pool, h
        limit = left if left < reserve else reserve
        for other in pools:
            if other is not None and other.live:
                h = bisect_right(other.lengths, limit) - 1  # `longest_at_most`, inlined
                if h >= 0 and not other.alive[h]:
                    h = other._left_of(h)
                if h >= 0:
                    return other, h
        h = pool.longest_at_most(left)
        if h >= 0:
            return pool, h
        # The evening: the shortest plate of any band that lasts past the next morning keeps
        # the bed busy all night; failing that, the longest leaves it idle the least.
        need = staffing.next_staffed(shift_end) - start
        return self._covering(state, need) or self._longest(state)

    @staticmethod
    def _covering(state: State, seconds: float) -> tuple[Pool, int] | None:
        """The most urgent band's shortest plate lasting at least `seconds`."""
        for pool in state.pools:
            if pool is not None and pool.live:
                h = pool.shortest_at_least(seconds)
                if h >= 0:
                    return pool, h
        return None

    @staticmethod
    def _longest(state: State) -> tuple[Pool, int] | None:
        best: tuple[Pool, int] | None = None
        for pool in state.pools:
            if pool is not None and pool.live:
                h = pool.longest()
                if best is None or pool.lengths[h] > best[0].lengths[best[1]]:
                    best = (pool, h)
        return best

    # -- work routed elsewhere ---------------------------------------------------------

    def _donors(self) -> list[list[int]]:
        """Per class, the other classes whose routed jobs it may print."""
        idx = self.e.index
        donors: list[set[int]] = [set() for _ in idx.class_members]
        for classes in idx.group_classes:
            for k in classes:
                donors[k].update(classes)
        return [sorted(d - {k}) for k, d in enumerate(donors)]

    def _steal(self, i: int, t: float) -> tuple[State, Pool, int, float] | None:
        """A plate routed to another class that printer i can finish before the plan ends.

        Stealing fills a printer that has nothing left in its class, in the plan's tail:
        the classes furthest behind first, only work of the filament it holds (an idle
        printer is not worth a change), the longest plate that fits, a bounded look.
        """
        e = self.e
        k = e.class_of[i]
        can = self.can_take[k]
        group_of = self.group_of
        material, colour = self.held[i]
        limit = self.latest_end
        work, free, count = self.class_work, self.class_sumfree, self.class_count
        # Classes with work left, and only ever fewer: the plan's tail asks this of every
        # printer, when most classes are done.
        self.active = active = [d for d in self.active if work[d] > 0]
        donor_set = self.donor_sets[k]
        behind = [((work[d] + free[d]) / max(1, count[d]), d) for d in active if d in donor_set]
        donors = [d for end, d in sorted(behind, reverse=True) if end > t]
        budget = STEAL_POOLS
        held, anyc = (material, colour), (material, "")
        states_of, plate_job, span = self.states, self.plate_job, limit - t
        for k2 in donors:
            states = states_of[k2]
            for state in (states.get(held), states.get(anyc)):
                if state is None or state.work <= 0:
                    continue
                for pool in state.pools:
                    if pool is None or not pool.live:
                        continue
                    budget -= 1
                    if budget < 0:
                        return None
                    # `longest_at_most` and `_left_of`'s usual case (a live entry), inlined
                    alive = pool.alive
                    h = bisect_right(pool.lengths, span) - 1
                    for _ in range(STEAL_LOOK):
                        if h >= 0 and not alive[h]:
                            h = pool._left_of(h)
                        if h < 0:
                            break
                        plate = pool.plates[h]
                        j = plate_job[plate]
                        if group_of[j] in can:
                            duration = e.seconds(j, k) * self.plate_copies[plate]
                            if t + duration <= limit:
                                return state, pool, h, duration
                        h -= 1
        return None
