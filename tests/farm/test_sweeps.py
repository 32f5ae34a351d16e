"""Work whose task was lost (a worker killed mid-task) is picked up again, once it is late."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from farm.models import Job, PrintRun
from farm.services.preparation import job_prepare
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.services.sweeps import stuck_work_sweep


def test_a_job_whose_slicing_task_was_lost_is_prepared_again(
    alice: Any, pla: Any, cube_upload: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    assert stuck_work_sweep().prepares == 0  # not late yet: a worker may be on it
    later = timezone.now() + datetime.timedelta(hours=1)
    with django_capture_on_commit_callbacks() as callbacks:
        assert stuck_work_sweep(now=later).prepares == 1
    assert len(callbacks) == 1
    job_prepare(job_id=job.pk)  # what the re-enqueued task does
    assert Job.objects.get().status == "queued"


def test_a_run_whose_dispatch_was_lost_is_dispatched_again(
    alice: Any,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_printer("p1")
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    schedule_pass()
    assert PrintRun.objects.get().status == "dispatching"
    later = timezone.now() + datetime.timedelta(minutes=10)
    with django_capture_on_commit_callbacks() as callbacks:
        result = stuck_work_sweep(now=later)
    assert (result.prepares, result.dispatches) == (0, 1)
    assert len(callbacks) == 1
