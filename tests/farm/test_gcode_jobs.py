"""Uploaded G-code: analysed on the way in, checked again against the printer it goes to."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from farm.models import Job, PrintRun
from farm.services.dispatch import run_dispatch
from farm.services.preparation import job_prepare
from farm.services.runs import run_create
from farm.services.submission import job_submit
from farm.statuses import JobStatus, RunStatus


@pytest.fixture
def sliced_cube(alice: Any, pla: Any, cube_upload: Any, make_printer: Any) -> bytes:
    make_printer("p04")  # 0.4 mm nozzle, the farm's usual
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.gcode
    data: bytes = job.gcode.read()
    return data


def test_an_uploaded_gcode_is_analysed_for_time_size_and_nozzle(
    alice: Any, pla: Any, sliced_cube: bytes
) -> None:
    job = job_submit(
        owner=alice, upload=SimpleUploadedFile("cube.gcode", sliced_cube), material=pla, quantity=1
    )
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.estimate_source == "gcode"
    assert job.seconds_per_copy and job.seconds_per_copy > 60
    assert job.nozzle_mm == pytest.approx(0.4)
    x, y, z = job.size or (0, 0, 0)
    # For G-code the size is how much bed it needs: up to its furthest move, not the part.
    assert z == pytest.approx(20, abs=0.5) and 20 < x <= 250 and 20 < y <= 210


def test_dispatch_refuses_a_gcode_for_another_nozzle(
    alice: Any, pla: Any, sliced_cube: bytes, make_printer: Any
) -> None:
    job = job_submit(
        owner=alice, upload=SimpleUploadedFile("cube.gcode", sliced_cube), material=pla, quantity=1
    )
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    wide = make_printer("p06", nozzle_mm=0.6)
    run = run_create(
        job=job,
        printer=wide,
        copies=1,
        planned_start=job.submitted_at,
        planned_end=job.submitted_at,
    )
    run_dispatch(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "refused for p06" in run.failure_reason and "nozzle" in run.failure_reason
    wide.refresh_from_db()
    assert wide.current_run is None and wide.bed_clear  # nothing was printed
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_operators_see_any_layer_of_a_jobs_toolpaths(
    client: Client, alice: Any, operator: Any, pla: Any, sliced_cube: bytes
) -> None:
    job = Job.objects.get()
    assert job.layers > 50
    client.force_login(operator)
    response = client.get(f"/jobs/{job.pk}/layers/10.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content and b"<path" in response.content
    assert b"layer-pick" in client.get(f"/jobs/{job.pk}/").content
    client.force_login(alice)
    assert client.get(f"/jobs/{job.pk}/layers/10.svg").status_code == 404
    assert PrintRun.objects.count() == 0
