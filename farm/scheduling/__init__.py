"""Scheduling, in plain Python: which copy prints on which printer, and when.

`plan()` is the one entry point the farm calls for a full plan; `quote()` is the planned
completion of a job before it is submitted; `Engine.next_for_printer()` decides one printer's
next run without replanning. Nothing in this package imports Django.
"""

from __future__ import annotations

from farm.scheduling.engine import Engine
from farm.scheduling.planner import plan, quote
from farm.scheduling.types import (
    Assignment,
    Plan,
    PlanOptions,
    PrinterSlot,
    SiteRules,
    WorkItem,
)

__all__ = [
    "Assignment",
    "Engine",
    "Plan",
    "PlanOptions",
    "PrinterSlot",
    "SiteRules",
    "WorkItem",
    "plan",
    "quote",
]
