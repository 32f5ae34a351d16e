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
    # For G-code the size is how much room it needs: up to its furthest move (the head's lift
    # at the end included, less the margin allowed beyond the bed), not the part.
    assert 20 <= z <= 30 and 20 < x <= 250 and 20 < y <= 210


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


def test_its_owner_and_the_operators_see_any_layer_of_a_jobs_toolpaths(
    client: Client, alice: Any, bob: Any, operator: Any, pla: Any, sliced_cube: bytes
) -> None:
    job = Job.objects.get()
    assert job.layers > 50
    client.force_login(operator)
    response = client.get(f"/jobs/{job.pk}/layers/10.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content and b"<path" in response.content
    assert b"layer-pick" in client.get(f"/jobs/{job.pk}/").content
    client.force_login(alice)  # the owner checks the layers before confirming
    assert client.get(f"/jobs/{job.pk}/layers/10.svg").status_code == 200
    client.force_login(bob)
    assert client.get(f"/jobs/{job.pk}/layers/10.svg").status_code == 404
    assert PrintRun.objects.count() == 0


def gcode_reaching(x: float) -> SimpleUploadedFile:
    """A small G-code that extrudes a line out to X=x (as one sliced for a big bed would)."""
    lines = ["G28", "M104 S215", "M140 S60", "G92 E0", "G1 Z0.2 F3000", "G1 X20 Y20 F6000"]
    lines += [f"G1 X{x:g} Y{20 + i} E{i + 1} F1200" for i in range(5)]
    return SimpleUploadedFile("wide.gcode", ("\n".join(lines) + "\n").encode())


def test_an_uploaded_gcode_is_checked_against_every_printer_and_planned_on_those_it_fits(
    alice: Any, pla: Any, make_printer: Any
) -> None:
    from farm.services.scheduling import schedule_pass

    small = make_printer("small", build_x_mm=180, build_y_mm=180, build_z_mm=180)
    big = make_printer("big")  # 250 x 210 x 220
    job = job_submit(owner=alice, upload=gcode_reaching(200), material=pla, quantity=2)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED, job.status_reason
    assert job.size is not None and job.size[0] == pytest.approx(200)

    schedule_pass()

    assert PrintRun.objects.filter(printer=big).count() == 1
    assert not PrintRun.objects.filter(printer=small).exists()  # the file would leave its bed
    job.refresh_from_db()
    assert job.plan_note == ""  # the second copy waits for the big printer, it is not refused


def test_an_uploaded_gcode_no_printer_can_print_is_rejected_naming_the_printers(
    alice: Any, pla: Any, make_printer: Any
) -> None:
    make_printer("small", build_x_mm=180, build_y_mm=180, build_z_mm=180)
    make_printer("big")
    job = job_submit(owner=alice, upload=gcode_reaching(300), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED
    assert "no printer of the farm can print this G-code" in job.status_reason
    assert "180 × 180 × 180 mm" in job.status_reason and "250 × 210 × 220 mm" in job.status_reason
