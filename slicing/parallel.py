"""A slice's geometry on every core: threads over independent chunks of layers.

shapely 2 releases the GIL inside its array functions (GEOS does the offsets, clips and
unions that are most of a slice), and numpy does in its large array operations, so threads
run them side by side. Threads rather than processes: no start-up, no pickling of geometry,
and they work inside a Celery prefork worker, whose children may not start processes of
their own. PrusaSlicer and CuraEngine use every core too; a slice on one core of two would
take twice the wall time for the same work.

Each chunk computes exactly what it would serially (every step it runs is per layer), so
the G-code is the same byte for byte whatever the number of threads (a test checks it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

# below this many layers a thread's share is not worth handing over
MIN_ELEMENTS_PER_THREAD = 8
T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or taskset sets
    it), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Workers:
    """`count` threads for one slice; `count` 1 runs everything in the caller's thread.

    Use as a context manager: the threads stop when the slice ends."""

    def __init__(self, count: int = 1) -> None:
        self.count = max(1, count)
        self._executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.count > 1:
            self._executor = ThreadPoolExecutor(self.count, thread_name_prefix="slice")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`[fn(x) for x in items]`, the items spread over the threads, results in order."""
        if self._executor is None or len(items) < 2:
            return [fn(x) for x in items]
        try:
            futures = [self._executor.submit(fn, x) for x in items]
        except RuntimeError:
            # no thread could start (the slice's address-space budget, a thread limit): the
            # same work in this thread, and serially from here on
            self.__exit__()
            return [fn(x) for x in items]
        return [future.result() for future in futures]

    def elementwise(self, op: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
        """`op(*arrays)` for an element-wise array function, each thread taking a slice."""
        n = len(arrays[0])
        if self._executor is None or n < MIN_ELEMENTS_PER_THREAD * 2:
            return op(*arrays)
        pieces = self.chunks(n, -(-n // self.count))
        done = self.map(lambda r: op(*(a[r.start : r.stop] for a in arrays)), pieces)
        return np.concatenate(done)

    def later(self, fn: Callable[[], R]) -> Callable[[], R]:
        """Start `fn` on a thread now; the returned function waits for its result (serially:
        runs it then)."""
        if self._executor is None:
            return fn
        try:
            future = self._executor.submit(fn)
        except RuntimeError:  # as in `map`
            self.__exit__()
            return fn
        return future.result

    def chunks(self, count: int, batch: int) -> list[range]:
        """`range(count)` in contiguous pieces of at most `batch` (bounding the arrays held at
        once), and at least as many pieces as threads when there is work for them (a part of
        100 layers in two of 50, not one of 64 and one of 36)."""
        pieces = max(-(-count // batch), min(self.count, count), 1)
        size = -(-count // pieces) if count else 0
        return [range(lo, min(lo + size, count)) for lo in range(0, count, size)] if size else []


SERIAL = Workers(1)
