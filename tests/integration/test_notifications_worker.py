"""A real Celery worker sends a notification: a job-done event is read by the notifications
task in the worker process, and Apprise posts it to a real local webhook (json://).

On the embedded default (SQLite + filesystem broker) in `make test`, and in CI again on
PostgreSQL + Redis.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from farm.management.commands.run_farm import processes
from farm.models import Notification, NotifyEvent
from farm.models.event import EventKind
from farm.services.enqueue import send_task
from farm.services.events import event_record
from farm.services.notifications import channel_save, notifications_from_events
from farm.task_names import TaskName
from tests.farm.records_helpers import queued_job
from tests.farm.test_notifications import Receiver
from tests.integration.processes import ROOT, process_env, purge_queues, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    import threading

    r = Receiver()
    threading.Thread(target=r.server.serve_forever, daemon=True).start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Path]:
    try:
        connection.ensure_connection()
    except Exception as exc:  # the reason goes into the skip message
        pytest.skip(f"the configured database is not reachable: {exc}")
    purge_queues()
    command = [*processes(port=0)["worker"][:-2], "-n", f"test-notify-{os.getpid()}@%h"]
    log = (tmp_path / "worker.log").open("wb")
    child = subprocess.Popen(
        command, cwd=ROOT, env=process_env(), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield tmp_path
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def test_a_real_worker_sends_a_job_done_message(
    worker: Path, receiver: Receiver, alice: Any, pla: Any
) -> None:
    job = queued_job(alice, pla, quantity=1)
    channel_save(user=alice, name="hook", url=receiver.url, events=[NotifyEvent.JOB_DONE])
    notifications_from_events()  # the cursor starts after the events already there
    event_record(EventKind.JOB_DONE, job=job)
    assert send_task(TaskName.NOTIFICATIONS_SEND)  # what beat sends every minute

    wait_for(lambda: bool(receiver.bodies), timeout=60, what="the webhook's message", logs=worker)
    assert receiver.bodies[0]["title"] == f"Job #{job.pk} cube.stl is done"
    wait_for(
        lambda: Notification.objects.filter(sent_at__isnull=False).exists(),
        timeout=10,
        what="the message marked sent",
        logs=worker,
    )
