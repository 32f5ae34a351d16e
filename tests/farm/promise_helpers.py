"""Jobs in the states promises are tested in, made through the real services."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User

from farm.models import Job
from farm.services.jobs import job_confirm
from farm.services.preparation import job_prepare
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit

REAL_TIME = {"speedup": 1}  # prints take their estimated time: plans end in the future


def prepared(owner: User, pla: Any, upload: Any, **kwargs: Any) -> Job:
    job = job_submit(owner=owner, upload=upload, material=pla, quantity=1, **kwargs)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    return job


def confirmed(owner: User, pla: Any, upload: Any) -> Job:
    job = prepared(owner, pla, upload, confirm_required=True)
    schedule_pass()  # the quote
    job.refresh_from_db()
    job_confirm(job=job, actor=owner)
    job.refresh_from_db()
    return job


def printing(owner: User, pla: Any, upload: Any, make_printer: Any) -> Job:
    """A confirmed job whose run started on p1 (which prints in real time)."""
    make_printer("p1", connection_settings=REAL_TIME)
    job = confirmed(owner, pla, upload)
    assert schedule_pass().runs_started == 1
    return job


def later(job: Job, seconds: float) -> None:
    """As if the job's promise had been made `seconds` earlier (time passed since)."""
    assert job.promised_end is not None
    Job.objects.filter(pk=job.pk).update(
        promised_end=job.promised_end - datetime.timedelta(seconds=seconds)
    )
