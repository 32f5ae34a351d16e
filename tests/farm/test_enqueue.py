"""Sending a task is best-effort: a broker outage is logged and never loses a submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from kombu.exceptions import OperationalError

from farm.celery import app
from farm.models import Job
from farm.statuses import JobStatus


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", refuse)


def test_a_part_submitted_while_the_broker_is_down_is_kept_for_the_sweep(
    client: Client,
    alice: User,
    pla: Any,
    cube_upload: Any,
    broker_down: None,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            "/jobs/new/", {"file": cube_upload(), "material": pla.pk, "quantity": 1, "priority": 0}
        )
    assert response.status_code == 302, response.content[:2000]
    assert len(callbacks) == 1
    job = Job.objects.get()
    assert job.status == JobStatus.SUBMITTED
    assert Path(job.file.path).is_file()  # kept, for the task the sweep sends later
    assert "could not send farm.tasks.job_prepare_task" in caplog.text
    assert client.get(f"/jobs/{job.pk}/").status_code == 200
