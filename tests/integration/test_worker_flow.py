"""A real Celery worker process and a real fleet link take a job submitted through the form
through slicing, scheduling, dispatch to a simulated printer, and completion.

Runs on the embedded default (SQLite + filesystem broker) in `make test`, and in CI again on
PostgreSQL + Redis (`.ci/run` sets FARM_DATABASE_URL and FARM_REDIS_URL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from farm.models import Job, Printer, PrintRun
from farm.statuses import JobStatus, RunStatus
from tests.integration.processes import farm_processes, purge_queues, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _database_reachable() -> None:
    try:
        connection.ensure_connection()
    except Exception as exc:  # the reason goes into the skip message
        pytest.skip(f"the configured database is not reachable: {exc}")


def test_a_real_worker_prints_a_submitted_job_to_done(
    client: Client,
    alice: Any,
    operator: Any,
    pla: Any,
    make_printer: Any,
    cube_upload: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    _database_reachable()
    # About 3 s of wall time for the cube's estimated print.
    printer = make_printer("sim-1", state="offline", connection_settings={"speedup": 300})
    purge_queues()
    with farm_processes(tmp_path, FARM_POLL_SECONDS="0.3", FARM_SCHEDULE_SECONDS="2"):
        client.force_login(alice)
        response = client.post(
            "/jobs/new/",
            {
                "file": cube_upload(),
                "material": pla.pk,
                "quantity": 1,
                "priority": 0,
                "colour": "black",
            },
        )
        assert response.status_code == 302, response.content[:2000]
        job = Job.objects.get()

        def quoted() -> bool:
            job.refresh_from_db()
            return job.status == JobStatus.QUOTED and job.planned_end is not None

        wait_for(quoted, timeout=120, what="the quoted completion time", logs=tmp_path)
        assert "If you confirm now" in client.get(f"/jobs/{job.pk}/").content.decode()
        client.post(f"/jobs/{job.pk}/confirm/")

        def printed() -> bool:
            return PrintRun.objects.filter(job=job, status=RunStatus.AWAITING_REMOVAL).exists()

        wait_for(printed, timeout=120, what="the run to finish printing", logs=tmp_path)
        job.refresh_from_db()
        assert job.status == JobStatus.PRINTING
        assert job.seconds_per_copy and job.estimate_source

        client.force_login(operator)
        dashboard = client.get("/operator/").content.decode()
        assert "Confirm bed cleared" in dashboard and "sim-1" in dashboard
        client.post(f"/operator/printers/{printer.pk}/clear/")

    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    finished = client.get("/operator/").content.decode().split("Recently finished")[1]
    assert f"/jobs/{job.pk}/" in finished and "Done" in finished
    run = PrintRun.objects.get(job=job)
    assert run.started_at and run.ended_at and run.cleared_at
    assert Printer.objects.get(pk=printer.pk).bed_clear
    kinds = set(job.events.values_list("kind", flat=True))
    assert {
        "job.submitted",
        "job.prepared",
        "run.created",
        "run.started",
        "run.finished",
        "printer.bed_cleared",
        "job.done",
    } <= kinds
