"""Small helpers the farm's tests share; they go through the real services."""

from __future__ import annotations

from farm.models import Job, Printer, PrintRun
from farm.services.runs import run_create


def claim(job: Job, printer: Printer) -> PrintRun:
    """A run of one copy, as a scheduling pass would create it."""
    return run_create(
        job=job,
        printer=printer,
        copies=1,
        planned_start=job.submitted_at,
        planned_end=job.submitted_at,
    )
