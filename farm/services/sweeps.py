"""Sweeps: pick up work whose task was lost (a worker killed mid-task, a broker restart).

Every task is safe to run twice, so re-enqueueing work that looks stuck costs at most a
repeated check; not doing it would leave a job waiting forever.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from farm.models import Job, PrintRun
from farm.services.enqueue import enqueue_job_prepare, enqueue_run_dispatch
from farm.statuses import JobStatus, RunStatus

# Longer than a slice or a dispatch normally takes, so a sweep does not race a busy worker.
STUCK_PREPARE = datetime.timedelta(minutes=20)
STUCK_DISPATCH = datetime.timedelta(minutes=3)


@dataclass(frozen=True)
class SweepResult:
    prepares: int
    dispatches: int


def stuck_work_sweep(*, now: datetime.datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    jobs = list(
        Job.objects.filter(
            status=JobStatus.SUBMITTED, submitted_at__lt=now - STUCK_PREPARE
        ).values_list("pk", flat=True)[:500]
    )
    runs = list(
        PrintRun.objects.filter(
            status=RunStatus.DISPATCHING, created_at__lt=now - STUCK_DISPATCH
        ).values_list("pk", flat=True)[:500]
    )
    for job_id in jobs:
        enqueue_job_prepare(job_id)
    for run_id in runs:
        enqueue_run_dispatch(run_id)
    return SweepResult(len(jobs), len(runs))
