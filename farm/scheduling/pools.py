"""The plates of the site-rule plan (`shifts.py`) and who holds what.

Plates of one (class, filament state, urgency band) sit in a `Pool`, sorted by length, so a
decision is a bisection; a `State` is one material and colour in one class: its pools, its
work left and the printers holding it. `bands` puts each job in its urgency band.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

import numpy as np

from farm.scheduling.engine import Engine

DAY = 86400.0
# Due-date bands (seconds from now): work due sooner is served first, whatever its length.
DUE_BANDS = (2 * DAY, 4 * DAY)


class Pool:
    """Plates of one (class, state, band), shortest first; taken entries are skipped."""

    __slots__ = ("alive", "lengths", "left", "live", "plates", "right", "top")

    def __init__(self, lengths: list[float], plates: list[int]) -> None:
        n = len(lengths)
        self.lengths = lengths
        self.plates = plates
        self.alive = [True] * n
        self.left = list(range(-1, n - 1))  # left[i] < i, everything between is taken
        self.right = list(range(1, n + 1))
        self.live = n
        self.top = n - 1  # every entry after it is taken (the longest is at or before it)

    def _left_of(self, i: int) -> int:
        """The last live entry at or before i, or -1."""
        alive, left = self.alive, self.left
        start = i
        while i >= 0 and not alive[i]:
            i = left[i]
        while start > i:
            nxt = left[start]
            left[start] = i
            start = nxt
        return i

    def _right_of(self, i: int) -> int:
        """The first live entry at or after i, or len."""
        alive, right = self.alive, self.right
        n = len(alive)
        start = i
        while i < n and not alive[i]:
            i = right[i]
        while start < i:
            nxt = right[start]
            right[start] = i
            start = nxt
        return i

    def longest_at_most(self, seconds: float) -> int:
        return self._left_of(bisect_right(self.lengths, seconds) - 1)

    def shortest_at_least(self, seconds: float) -> int:
        i = self._right_of(bisect_left(self.lengths, seconds))
        return i if i < len(self.alive) else -1

    def longest(self) -> int:
        top = self.top
        if top >= 0 and not self.alive[top]:
            top = self.top = self._left_of(top)
        return top

    def take(self, i: int) -> int:
        self.alive[i] = False
        self.live -= 1
        return self.plates[i]


class State:
    """One material and colour in one class: its plates and the printers holding it."""

    __slots__ = ("colour", "count", "first", "material", "pools", "sumfree", "work")

    def __init__(self, material: str, colour: str, n_bands: int) -> None:
        self.material = material
        self.colour = colour  # "" = the material's any-colour work
        self.pools: list[Pool | None] = [None] * n_bands
        self.first = 0  # no band before this one has plates left
        self.work = 0.0  # seconds of plates left, bed clearing included
        self.count = 0  # printers holding it now
        self.sumfree = 0.0  # sum of their free times


def bands(engine: Engine) -> np.ndarray:
    """(jobs,) int: urgency band per job, 0 first."""
    work = engine.work
    priority = np.array([w.priority for w in work], dtype=np.int64)
    due = np.array([math.inf if w.due is None else w.due - engine.now for w in work])
    band = np.full(len(work), 2 + len(DUE_BANDS), dtype=np.int64)
    for b, limit in reversed(list(enumerate(DUE_BANDS))):
        band[due <= limit] = 2 + b
    band[priority >= 1] = 1
    band[priority >= 2] = 0
    band[priority < 0] = 2 + len(DUE_BANDS)  # low: with the work due later
    return band


def needs(state: State, material: str, colour: str) -> bool:
    """Must a printer holding (material, colour) change filament to serve `state`."""
    return state.material != material or (state.colour != "" and state.colour != colour)
