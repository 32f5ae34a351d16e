"""Work whose task was lost is sent again by the sweep, from what the database says; work a
live task holds (its lease) is never sent twice."""

from __future__ import annotations

import ctypes
import datetime
from pathlib import Path
from typing import Any

import pytest
import trimesh
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from farm.models import Job, PrintRun
from farm.services import sweeps
from farm.services.dispatch import run_claim_dispatch
from farm.services.preparation import job_claim_preparation, job_prepare
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.services.sweeps import stuck_work_sweep
from farm.statuses import JobStatus, RunStatus
from farm.task_names import TaskName


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[TaskName, tuple[object, ...]]]:
    """The tasks the sweep sends; the broker's queues hold `depth` messages each."""
    messages: list[tuple[TaskName, tuple[object, ...]]] = []

    def send(name: TaskName, *args: object, queue: str | None = None) -> bool:
        messages.append((name, args))
        return True

    monkeypatch.setattr(sweeps, "send_task", send)
    monkeypatch.setattr(sweeps, "queue_depth", lambda queue: 0)
    return messages


def later(seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)


@pytest.fixture
def job(alice: Any, pla: Any, cube_upload: Any) -> Job:
    return job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)


def test_a_job_whose_task_never_arrived_is_sent_again_within_a_minute(job: Job, sent: Any) -> None:
    assert stuck_work_sweep().prepares == 0  # just submitted: its message may be in flight
    assert stuck_work_sweep(now=later(30)).prepares == 1
    assert sent == [(TaskName.JOB_PREPARE, (job.pk,))]


def test_a_job_whose_message_waits_in_a_busy_queue_is_not_sent_twice(
    job: Job, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweeps, "queue_depth", lambda queue: 1 if queue == "slicing" else 0)
    assert stuck_work_sweep(now=later(600)).prepares == 0
    assert sent == []


def test_a_job_a_live_worker_is_preparing_is_never_sent_again(job: Job, sent: Any) -> None:
    assert job_claim_preparation(job_id=job.pk, holder="task-a")
    assert stuck_work_sweep(now=later(15)).prepares == 0  # the lease still runs


def test_a_job_whose_worker_died_is_sent_again_once_its_lease_lapses(
    job: Job, sent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert job_claim_preparation(job_id=job.pk, holder="task-a")
    # Even with messages in the queue: the dead worker's message is spent.
    monkeypatch.setattr(sweeps, "queue_depth", lambda queue: 100)
    assert stuck_work_sweep(now=later(25)).prepares == 1


def test_a_second_message_does_nothing_while_the_first_holds_the_lease(job: Job) -> None:
    assert job_claim_preparation(job_id=job.pk, holder="task-a")
    job_prepare(job_id=job.pk, holder="task-b")
    job.refresh_from_db()
    assert (job.status, job.prepare_holder, job.prepare_attempts) == ("submitted", "task-a", 1)


def test_the_holders_own_message_delivered_again_prepares_the_job(job: Job) -> None:
    assert job_claim_preparation(job_id=job.pk, holder="task-a")  # then its worker was lost
    job_prepare(job_id=job.pk, holder="task-a")  # the broker redelivers the same task
    job.refresh_from_db()
    assert (job.status, job.prepare_attempts, job.prepare_lease_until) == ("queued", 2, None)


def test_a_job_whose_preparation_keeps_dying_is_rejected_with_the_reason(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(prepare_attempts=3)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED
    assert job.status_reason.startswith("checking and slicing the file stopped 3 times")


def fresh_allocations() -> None:
    """Make the slice's memory come from new address space, as in a fresh worker: the budget
    is a limit on address space (RLIMIT_AS), and an earlier test that freed a big block leaves
    free heap a small slice fits in, and raises glibc's mmap threshold so large arrays land
    there too; then the slice needs no new address space and passes any budget."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to reset
    libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD back to its default (and fixed there)
    libc.malloc_trim(0)  # free heap back to the system


def test_a_slice_that_needs_more_memory_than_its_budget_is_rejected_with_the_reason(
    alice: Any, pla: Any, settings: Any, tmp_path: Path
) -> None:
    # a sphere of 81,920 faces: its arrays are larger than glibc's mmap threshold, so its
    # slice needs new address space whatever free heap earlier tests left behind
    sphere = trimesh.creation.icosphere(subdivisions=6, radius=15.0)
    sphere.apply_translation((0, 0, 15.0))
    upload = SimpleUploadedFile("sphere.stl", sphere.export(file_type="stl"))
    job = job_submit(owner=alice, upload=upload, material=pla, quantity=1)
    # A slice cache of its own: a hit for the same part sliced by an earlier test needs no
    # memory at all, and would (rightly) be accepted.
    settings.SLICING_CACHE_DIR = str(tmp_path / "slices")
    # the built-in engine, in this process: PrusaSlicer is a child process whose own address
    # space starts from nothing, so the inherited limit (ours + 1 MB) holds it only as long
    # as this process is small (its peak memory is watched apart: slicing.external)
    settings.SLICING_ENGINE = "builtin"
    fresh_allocations()
    job_prepare(job_id=job.pk, memory_mb=1)
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED
    assert "needed more than 1 MB of memory" in job.status_reason


@pytest.fixture
def run(job: Job, make_printer: Any) -> PrintRun:
    """A run on a claimed printer whose dispatch task has not run."""
    make_printer("p1")
    job_prepare(job_id=job.pk)
    schedule_pass()
    run = PrintRun.objects.get()
    assert run.status == RunStatus.DISPATCHING
    return run


def test_a_run_whose_dispatch_was_lost_is_dispatched_again_within_a_minute(
    run: PrintRun, sent: Any
) -> None:
    assert stuck_work_sweep().dispatches == 0
    assert stuck_work_sweep(now=later(30)).dispatches == 1
    assert (TaskName.RUN_DISPATCH, (run.pk,)) in sent


def test_a_run_a_live_task_is_dispatching_is_left_to_it(run: PrintRun, sent: Any) -> None:
    assert run_claim_dispatch(run_id=run.pk, holder="task-a")
    assert not run_claim_dispatch(run_id=run.pk, holder="task-b")
    assert stuck_work_sweep(now=later(15)).dispatches == 0
    assert stuck_work_sweep(now=later(25)).dispatches == 1


def test_a_dispatch_no_worker_takes_for_minutes_names_its_site_queue_in_the_log(
    run: PrintRun, sent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stuck_work_sweep(now=later(60))
    assert "site.berlin" not in caplog.text  # a minute: a busy queue, not a missing worker
    stuck_work_sweep(now=later(6 * 60))
    assert "1 dispatches of site berlin have waited over 5 minutes" in caplog.text
    assert "python manage.py site_worker --site berlin" in caplog.text


def test_a_lost_dispatch_is_sent_again_to_its_printers_site_queue(
    run: PrintRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    queues: list[str | None] = []

    def send(name: TaskName, *args: object, queue: str | None = None) -> bool:
        queues.append(queue)
        return True

    monkeypatch.setattr(sweeps, "send_task", send)
    monkeypatch.setattr(sweeps, "queue_depth", lambda queue: 0)
    assert stuck_work_sweep(now=later(30)).dispatches == 1
    assert queues == ["site.berlin"]


def test_a_dispatch_held_until_its_planned_start_is_not_sent_again_before_then(
    run: PrintRun, sent: Any
) -> None:
    # A pass starts the runs due before the next pass, their dispatch held until their
    # planned starts (`send_run_dispatches`): sent again early, a printer would heat up
    # ahead of its site's turn.
    PrintRun.objects.filter(pk=run.pk).update(planned_start=later(120))
    assert stuck_work_sweep(now=later(30)).dispatches == 0
    assert stuck_work_sweep(now=later(140)).dispatches == 1
