"""Scheduling, in plain Python: which copy prints on which printer, and when.

`plan()` is the one entry point the farm calls; the algorithm behind it can change without the
farm noticing. Nothing in this package imports Django.
"""

from __future__ import annotations

from farm.scheduling.planner import plan
from farm.scheduling.types import Assignment, Plan, PrinterSlot, WorkItem

__all__ = ["Assignment", "Plan", "PrinterSlot", "WorkItem", "plan"]
