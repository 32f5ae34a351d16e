"""The files of rejected and cancelled jobs are deleted after the retention; the rows stay."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from farm.models import Event, Job
from farm.models.event import EventKind
from farm.services.cleanup import uploads_cleanup
from farm.services.jobs import job_cancel
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from farm.statuses import JobStatus, RunStatus
from farm.task_names import TaskName
from tests.farm.helpers import claim

WEEK = datetime.timedelta(days=7)


def _age(job: Job, days: float) -> None:
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(days))


def _stored(job: Job) -> list[Path]:
    job.refresh_from_db()
    return [Path(f.path) for f in (job.file, job.gcode, job.thumbnail) if f]


def _prepared(owner: Any, material: Any, upload: SimpleUploadedFile) -> Job:
    job = job_submit(owner=owner, upload=upload, material=material, quantity=1)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_it_deletes_the_files_of_an_old_cancelled_job_and_keeps_the_row(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = _prepared(alice, pla, cube_upload("bracket.stl"))
    files = _stored(job)
    assert len(files) == 3 and all(f.exists() for f in files)  # upload, G-code, thumbnail
    job_cancel(job=job, actor=alice)
    _age(job, 8)
    report = uploads_cleanup(older_than=WEEK)
    assert (report.jobs, report.files) == (1, 4)  # and the slice cache's record
    assert not any(f.exists() for f in files)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.name == "bracket.stl"
    assert not job.file and not job.gcode and not job.thumbnail
    assert Event.objects.filter(job=job, kind=EventKind.JOB_CANCELLED, actor=alice).exists()
    assert uploads_cleanup(older_than=WEEK).jobs == 0  # nothing left to do


def test_it_deletes_the_upload_of_an_old_rejected_job(alice: Any, pla: Any) -> None:
    job = _prepared(alice, pla, SimpleUploadedFile("flat.obj", b"v 0 0 0\nv 1 0 0\n"))
    assert job.status == JobStatus.REJECTED
    [upload] = _stored(job)
    _age(job, 30)
    assert uploads_cleanup(older_than=WEEK).files == 1
    assert not upload.exists()
    job.refresh_from_db()
    assert job.status_reason.startswith("“flat.obj” has no faces")


def test_it_keeps_the_files_of_a_job_within_the_retention(alice: Any, pla: Any) -> None:
    job = _prepared(alice, pla, SimpleUploadedFile("flat.obj", b"v 0 0 0\nv 1 0 0\n"))
    _age(job, 6)
    assert uploads_cleanup(older_than=WEEK).jobs == 0
    assert all(f.exists() for f in _stored(job))


def test_it_keeps_a_cached_gcode_another_job_still_prints(
    alice: Any, bob: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1")
    cancelled = _prepared(alice, pla, cube_upload("a.stl"))
    kept = _prepared(bob, pla, cube_upload("b.stl"))
    assert kept.gcode.name == cancelled.gcode.name  # the same content: one cache entry
    upload = Path(cancelled.file.path)
    job_cancel(job=cancelled, actor=alice)
    _age(cancelled, 8)
    report = uploads_cleanup(older_than=WEEK)
    assert (report.files, report.kept_shared) == (1, 2)
    assert not upload.exists()
    assert all(f.exists() for f in _stored(kept))


def test_it_keeps_the_files_of_a_cancelled_job_whose_print_is_in_doubt(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    printer = make_printer("p1")
    job = _prepared(alice, pla, cube_upload())
    run = claim(job, printer)
    job_cancel(job=job, actor=alice)
    # the printer stopped answering before the cancel reached it: it may still be printing
    type(run).objects.filter(pk=run.pk).update(status=RunStatus.IN_DOUBT)
    _age(job, 8)
    assert uploads_cleanup(older_than=WEEK).jobs == 0
    assert all(f.exists() for f in _stored(job))


def test_the_beat_runs_the_cleanup(settings: Any) -> None:
    entries = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert TaskName.UPLOADS_CLEANUP.value in entries
    assert settings.FARM_UPLOAD_RETENTION_DAYS == 30
