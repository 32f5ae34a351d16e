"""The last pass's plan (its runs not started), kept in the cache, not the database: it is
derived data, rewritten each pass, and losing it costs one pass that plans afresh.

Its own module, importing only the cache: the run and promise services read it, and the plan's
inputs (which import the run services) write it, so living there made an import circle.
"""

from __future__ import annotations

import numpy as np
from django.core.cache import cache

from farm.scheduling import Assignment

PREVIOUS_PLAN_KEY = "schedule:previous-plan"
PREVIOUS_PLAN_SECONDS = 86400


def previous_plan_store(assignments: list[Assignment]) -> None:
    """Keep the runs of this pass's plan that were not started, for the next pass."""
    rows = np.array(
        [
            (a.job_id, a.printer_id, a.copies, a.start, a.end, a.material_change)
            for a in assignments
        ],
        dtype=np.float64,
    ).reshape(-1, 6)
    cache.set(PREVIOUS_PLAN_KEY, rows.tobytes(), PREVIOUS_PLAN_SECONDS)


def previous_plan() -> list[Assignment]:
    """The runs the last pass planned and did not start (none when the cache lost them)."""
    raw = cache.get(PREVIOUS_PLAN_KEY)
    if not raw:
        return []
    rows = np.frombuffer(raw, dtype=np.float64).reshape(-1, 6)
    return [Assignment(int(j), int(p), int(c), s, e, bool(m)) for j, p, c, s, e, m in rows.tolist()]
