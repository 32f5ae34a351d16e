"""The employee's submission form: good files are saved and prepared, bad input is refused
with a clear message and nothing is saved half-way."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from farm.models import Event, Job
from farm.models.job import EstimateSource
from farm.services.preparation import job_prepare
from farm.statuses import JobStatus


@pytest.fixture
def client_alice(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


def post_job(client: Client, pla: Any, upload: Any, **fields: Any) -> Any:
    data = {"material": pla.pk, "quantity": 1, "priority": 0, "colour": "", "notes": ""}
    data.update(fields)
    if upload is not None:
        data["file"] = upload
    return client.post("/jobs/new/", data)


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_it_saves_a_mesh_job_and_redirects_to_its_page(
    client_alice: Client, pla: Any, cube_upload: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_job(client_alice, pla, cube_upload(), quantity=3)
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.status, job.quantity, job.file_kind) == (JobStatus.SUBMITTED, 3, "mesh")
    assert len(callbacks) == 1  # the slicing task, enqueued after commit
    assert Event.objects.filter(job=job, kind="job.submitted").exists()


def test_preparing_a_mesh_slices_it_and_estimates_from_the_g_code(
    alice: Any, pla: Any, cube_upload: Any
) -> None:
    from farm.services.submission import job_submit

    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.estimate_source == EstimateSource.SLICED
    assert job.gcode and job.engine
    assert job.layers == pytest.approx(100, abs=2)  # 20 mm at 0.2 mm layers
    assert job.seconds_per_copy and job.seconds_per_copy > 120
    assert job.size == pytest.approx((20, 20, 20))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("empty.stl", b""), "is empty"),
        (SimpleUploadedFile("notes.txt", b"hello"), "is not a mesh or G-code file"),
        (SimpleUploadedFile("photo.stl", b"\x89PNG" + b"\0" * 200), "not a valid STL"),
        (SimpleUploadedFile("fake.3mf", b"not a zip at all"), "not a 3MF file"),
        (SimpleUploadedFile("words.gcode", b"hello world\n"), "no G-code commands"),
        (None, "Choose a mesh"),
    ],
)
def test_it_refuses_a_bad_file_and_saves_nothing(
    client_alice: Client, pla: Any, settings: Any, upload: Any, message: str
) -> None:
    response = post_job(client_alice, pla, upload)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Job.objects.count() == 0
    assert stored_files(settings) == []


def test_it_refuses_a_file_over_the_size_limit_while_streaming(
    client_alice: Client, pla: Any, settings: Any
) -> None:
    settings.FARM_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.stl", b"solid x\nfacet " + b" " * (3 * 1024 * 1024))
    response = post_job(client_alice, pla, big)
    assert response.status_code == 200
    assert "larger than the 1 MB limit" in response.content.decode()
    assert Job.objects.count() == 0
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("quantity", "message"),
    [(0, "at least one copy"), (-3, "at least one copy"), (1_000_000, "At most 5,000 copies")],
)
def test_it_refuses_a_quantity_out_of_range(
    client_alice: Client, pla: Any, cube_upload: Any, quantity: int, message: str
) -> None:
    response = post_job(client_alice, pla, cube_upload(), quantity=quantity)
    assert message in response.content.decode()
    assert Job.objects.count() == 0


def test_it_refuses_a_due_date_in_the_past(
    client_alice: Client, pla: Any, cube_upload: Any
) -> None:
    yesterday = timezone.now() - datetime.timedelta(days=1)
    response = post_job(client_alice, pla, cube_upload(), due=yesterday.strftime("%Y-%m-%dT%H:%M"))
    assert "The due date is in the past." in response.content.decode()
    assert Job.objects.count() == 0


def test_a_database_failure_leaves_no_stored_file(
    alice: Any, pla: Any, cube_upload: Any, settings: Any, monkeypatch: Any
) -> None:
    from farm.services import submission

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(submission, "event_record", explode)
    with pytest.raises(RuntimeError):
        submission.job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    assert Job.objects.count() == 0
    assert stored_files(settings) == []


def test_a_corrupt_mesh_is_rejected_with_the_reason(alice: Any, pla: Any) -> None:

    from farm.services.submission import job_submit

    # Passes the cheap first look (an ASCII STL header) but has no usable triangles.
    upload = SimpleUploadedFile("broken.stl", b"solid x\nfacet normal 0 0 1\nendsolid x\n")
    job = job_submit(owner=alice, upload=upload, material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED
    assert job.status_reason
