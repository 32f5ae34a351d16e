"""A memory budget for one piece of work in this process (a slice in a slicing worker).

The limit is on address space (RLIMIT_AS), counted from what the process already maps, so the
budget is what the slice itself may add: past it an allocation fails with MemoryError (numpy's
too) instead of the kernel's OOM killer taking a worker, or the machine, down. A slicer run as
a subprocess (PrusaSlicer) inherits the limit. Linux only; elsewhere it does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def mapped_bytes() -> int | None:
    """The address space this process maps now, or None where /proc is not there."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def memory_limit(budget_mb: int) -> Iterator[None]:
    """Allow the body at most `budget_mb` more address space; 0 means no limit."""
    try:
        import resource
    except ImportError:  # not a Unix
        yield
        return
    mapped = mapped_bytes()
    if budget_mb <= 0 or mapped is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + budget_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
