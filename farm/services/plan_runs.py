"""The current plan's runs as people may see them: what the queue page draws (the last
scheduling pass's plan, `farm.services.queue_plan`), each run with its job, printer and
planned times. Operators see every run; anyone else, only the runs of their own jobs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User

from farm.models import Job, Printer
from farm.roles import is_operator
from farm.scheduling import Assignment
from farm.services.plan_inputs import from_timestamp
from farm.services.queue_plan import queue_plan
from farm.statuses import JOB_OPEN


@dataclass(frozen=True)
class PlannedRun:
    job: int
    job_name: str
    printer: int
    printer_name: str
    site: str  # the printer's site's slug
    copies: int
    planned_start: datetime.datetime
    planned_end: datetime.datetime
    material_change: bool  # someone swaps filament before it starts


def plan_visible_to(user: User | AnonymousUser, *, job_id: int | None = None) -> list[Assignment]:
    """The planned runs `user` may see, soonest first (of one job, with `job_id`)."""
    planned = queue_plan()
    if not is_operator(user):
        if not isinstance(user, User):
            return []
        # An employee's open jobs are a few: ask for them, not for the plan's 40,000 jobs.
        mine = set(Job.objects.filter(owner=user, status__in=JOB_OPEN).values_list("pk", flat=True))
        planned = [p for p in planned if p.job_id in mine]
    if job_id is not None:
        planned = [p for p in planned if p.job_id == job_id]
    planned.sort(key=lambda p: (p.start, p.printer_id, p.job_id))
    return planned


def planned_runs(planned: list[Assignment]) -> list[PlannedRun]:
    """The runs with their job's and printer's names: called for one page of the plan, so a
    plan of 40,000 runs is not 40,000 names read."""
    jobs = dict(Job.objects.filter(pk__in={p.job_id for p in planned}).values_list("pk", "name"))
    printers = {
        pk: (name, slug)
        for pk, name, slug in Printer.objects.filter(
            pk__in={p.printer_id for p in planned}
        ).values_list("pk", "name", "site__slug")
    }
    return [
        PlannedRun(
            job=p.job_id,
            job_name=jobs[p.job_id],
            printer=p.printer_id,
            printer_name=printers[p.printer_id][0],
            site=printers[p.printer_id][1],
            copies=p.copies,
            planned_start=from_timestamp(p.start),
            planned_end=from_timestamp(p.end),
            material_change=p.material_change,
        )
        for p in planned
        # A job or printer deleted since the pass: the next pass no longer plans it.
        if p.job_id in jobs and p.printer_id in printers
    ]
