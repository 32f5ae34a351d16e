"""Runs with chosen times and outcomes, made through the real services (then dated)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from farm.models import Job, Printer, PrintRun
from farm.services.preparation import job_prepare
from farm.services.runs import bed_clear, run_fail, run_finish, run_start
from farm.services.submission import job_submit
from tests.conftest import CUBE_STL
from tests.farm.helpers import claim


def queued_job(owner: Any, material: Any, quantity: int = 500, colour: str = "black") -> Job:
    job = job_submit(
        owner=owner,
        upload=SimpleUploadedFile("cube.stl", CUBE_STL),
        material=material,
        quantity=quantity,
        colour=colour,
    )
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def ended_run(
    job: Job,
    printer: Printer,
    *,
    hours: float = 1.0,
    ended_ago: datetime.timedelta = datetime.timedelta(hours=1),
    fail: str = "",
    progress: float = 0.5,
    clear: bool = True,
) -> PrintRun:
    """A run of one copy that printed (or failed with `fail`), ended `ended_ago`, took `hours`."""
    run = claim(Job.objects.get(pk=job.pk), printer)
    run_start(run_id=run.pk)
    if fail:
        run_fail(run_id=run.pk, reason=fail, progress=progress)
    else:
        run_finish(run_id=run.pk)
    if clear:
        bed_clear(printer=Printer.objects.get(pk=printer.pk), actor=None)
    end = timezone.now() - ended_ago
    start = end - datetime.timedelta(hours=hours)
    PrintRun.objects.filter(pk=run.pk).update(
        started_at=start,
        ended_at=end,
        planned_start=start,
        planned_end=start + datetime.timedelta(hours=hours),
    )
    return PrintRun.objects.get(pk=run.pk)
