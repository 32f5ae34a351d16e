"""Time rules of a site: when people are there, when it is down, how many printers may heat up.

All pure arithmetic on POSIX seconds, cheap enough to call once per planned run.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from farm.scheduling.types import SiteRules, Window

DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday: shifting by three days puts week offset 0 on a Monday.
_MONDAY_SHIFT = 3 * DAY


class Staffing:
    """When a site has people on the floor."""

    def __init__(self, rules: SiteRules) -> None:
        self.always = not rules.staffed_hours
        self.offset = rules.utc_offset_hours * 3600.0
        spans: list[Window] = []
        for day in rules.staffed_weekdays:
            for start_h, end_h in rules.staffed_hours:
                start, end = day * DAY + start_h * 3600.0, day * DAY + end_h * 3600.0
                if end <= start:  # a night shift running past midnight
                    end += DAY
                spans.append((start, end))
        spans.sort()
        # The week before and after too, so Sunday's night shift is seen from Monday morning
        # and next Monday's shift from Sunday evening.
        self._spans = [(s + k * WEEK, e + k * WEEK) for k in (-1, 0, 1) for s, e in spans]
        self._starts = [s for s, _ in self._spans]
        # The latest end among spans started so far: spans may overlap (night shifts).
        self._reach: list[float] = []
        for _, end in self._spans:
            self._reach.append(max(end, self._reach[-1]) if self._reach else end)

    def _locate(self, t: float) -> tuple[float, int]:
        local = t + self.offset + _MONDAY_SHIFT
        x = local % WEEK
        return x, bisect_right(self._starts, x) - 1

    def _learn(self, t: float) -> None:
        """Remember the staffed or unstaffed stretch around t: a plan asks about times close
        together, and most answers are then two comparisons."""
        x, i = self._locate(t)
        if i >= 0 and x < self._reach[i]:
            self._lo, self._hi = t - (x - self._starts[i]), t + (self._reach[i] - x)
        else:
            left = x - self._reach[i] if i >= 0 else 0.0
            self._ulo, self._uhi = t - left, t + (self._starts[i + 1] - x)

    _lo = _hi = _ulo = _uhi = 0.0

    def next_staffed(self, t: float) -> float:
        """The earliest moment >= t when someone is on the floor."""
        if self.always:
            return t
        if self._lo <= t < self._hi:
            return t
        if self._ulo <= t < self._uhi:
            return self._uhi
        if not self._spans:
            return math.inf
        self._learn(t)
        return t if self._lo <= t < self._hi else self._uhi

    def shift_end(self, t: float) -> float:
        """When the staffed time running at t ends (t itself when nobody is there)."""
        if self.always:
            return math.inf
        if self._lo <= t < self._hi:
            return self._hi
        if self._ulo <= t < self._uhi or not self._spans:
            return t
        self._learn(t)
        return self._hi if self._lo <= t < self._hi else t


def after_windows(start: float, duration: float, windows: tuple[Window, ...]) -> float:
    """The earliest start >= `start` such that [start, start + duration) misses every window."""
    moved = True
    while moved:
        moved = False
        for a, b in windows:
            if start < b and a < start + duration:
                start = b
                moved = True
    return start


class Stagger:
    """At most `limit` printers of a site heating at once.

    Starts snap to a grid of `heat_seconds / limit`, one start per grid point: any heat-up
    window then holds at most `limit` starts, so the limit holds at every instant without
    keeping a list of who is heating, and the site can start `limit` printers per heat-up
    time, the most the rule allows. A start moves by less than one grid step (6 s for 50
    printers and 5 minutes).
    """

    def __init__(self, limit: int, heat_seconds: float) -> None:
        self.active = limit > 0 and heat_seconds > 0
        if not self.active:
            return
        self.cap = 1
        self.align = True
        # A hair over heat / limit: rounding must never put limit + 1 grid points in a window.
        self.slot = heat_seconds / limit * (1.0 + 1e-9)
        self._used: dict[int, int] = {}
        # Every full slot -> a later slot to try, every slot between them full (compressed
        # as it is walked): a slot has an entry exactly when it is full, so finding the
        # first free slot is one look-up per step (the morning queue at a big site walks
        # hundreds of full slots).
        self._next_free: dict[int, int] = {}

    def _find(self, slot: int) -> int:
        """The first slot >= `slot` that is not full."""
        later = self._next_free
        free = slot
        while free in later:
            free = later[free]
        while slot != free:
            nxt = later[slot]
            later[slot] = free
            slot = nxt
        return free

    def _first(self, t: float) -> int:
        return math.ceil(t / self.slot) if self.align else math.floor(t / self.slot)

    def peek(self, t: float) -> float:
        """The start `take(t)` would give, without reserving it."""
        if not self.active:
            return t
        return max(t, self._find(self._first(t)) * self.slot)

    def take(self, t: float) -> float:
        """Reserve the earliest start >= t and return it."""
        if not self.active:
            return t
        # `_first` and `_find`'s usual case inlined: a plan calls this once per run.
        slot = math.ceil(t / self.slot) if self.align else math.floor(t / self.slot)
        used = self._used
        count = used.get(slot, 0)
        if count >= self.cap:
            slot = self._find(slot)
            count = used.get(slot, 0)
        used[slot] = count + 1
        if count + 1 >= self.cap:
            self._next_free[slot] = slot + 1
        start = slot * self.slot
        return start if start > t else t
