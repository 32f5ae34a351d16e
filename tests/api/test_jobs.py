"""Jobs through the API: submitted, prepared, confirmed and cancelled by the web's services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from farm.models import Job, Material, Printer
from farm.services.observation import live_key
from farm.services.preparation import job_prepare
from farm.statuses import JobStatus
from tests.api.conftest import token_client
from tests.farm.helpers import claim
from tests.farm.test_gcode_jobs import gcode_reaching


def submit(user: User, upload: Any, material: Material, **fields: Any) -> Any:
    return token_client(user).post(
        "/api/v1/jobs/", {"file": upload, "material": material.pk, **fields}, format="multipart"
    )


def test_an_employee_submits_the_calibration_cube_confirms_its_quote_and_it_is_queued(
    alice: User, pla: Material, make_printer: Any, meshes_dir: Path
) -> None:
    make_printer("berlin-01")
    with (meshes_dir / "XYZ-Cube.stl").open("rb") as mesh:
        response = submit(alice, mesh, pla, quantity=2, colour="black")
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["status"], job["owner"], job["quantity"], job["file_kind"]) == (
        "submitted",
        "alice",
        2,
        "mesh",
    )
    assert job["name"] == "XYZ-Cube.stl"
    job_prepare(job_id=job["id"])  # what the slicing worker does next

    client = token_client(alice)
    quoted = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert quoted["status"] == "quoted"
    assert quoted["copies"] == {"done": 0, "printed": 0, "printing": 0, "waiting": 2}
    assert quoted["seconds_per_copy"] > 0
    confirmed = client.post(f"/api/v1/jobs/{job['id']}/confirm/")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "queued"
    assert Job.objects.get(pk=job["id"]).confirmed_at is not None
    # Confirming twice says why, and changes nothing.
    again = client.post(f"/api/v1/jobs/{job['id']}/confirm/")
    assert again.status_code == 409
    assert "needs no confirmation" in again.json()["detail"]


def test_a_gcode_can_be_queued_at_once_and_cancelled(
    alice: User, pla: Material, make_printer: Any
) -> None:
    make_printer("berlin-01")
    response = submit(alice, gcode_reaching(100), pla, confirm_required=False)
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    job_prepare(job_id=job_id)
    client = token_client(alice)
    assert client.get(f"/api/v1/jobs/{job_id}/").json()["status"] == "queued"
    assert client.get("/api/v1/jobs/?status=queued").json()["count"] == 1
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 409


def test_the_form_s_checks_answer_field_by_field(alice: User, pla: Material) -> None:
    response = submit(alice, SimpleUploadedFile("part.docx", b"not a mesh"), pla, quantity=0)
    assert response.status_code == 400
    errors = response.json()
    assert "is not a mesh or G-code file" in errors["file"][0]
    assert errors["quantity"] == ["Ask for at least one copy."]
    assert Job.objects.count() == 0


def test_an_upload_over_the_limit_is_refused_as_on_the_form(
    alice: User, pla: Material, settings: Any
) -> None:
    settings.FARM_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.stl", b"solid x\n" + b" " * (1024 * 1024 + 10))
    response = submit(alice, big, pla)
    assert response.status_code == 400
    assert response.json()["file"] == ["The file is larger than the 1 MB limit."]
    assert Job.objects.count() == 0


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    alice: User, pla: Material, settings: Any
) -> None:
    settings.FARM_MAX_UPLOAD_MB = 1
    settings.FARM_UPLOAD_FORM_MARGIN_MB = 1
    huge = SimpleUploadedFile("huge.stl", b"solid x\n" + b" " * (3 * 1024 * 1024))
    assert submit(alice, huge, pla).status_code == 413


def test_operators_see_printers_live_state_and_never_their_secrets(
    operator: User, make_printer: Any
) -> None:
    printer: Printer = make_printer(
        "berlin-01",
        connection_kind="octoprint",
        connection_settings={"url": "http://octopi-berlin-01.lan", "api_key": "S3CRET-KEY"},
        secret_encrypted="gAAAA-ENCRYPTED-KEY",
    )
    live = {"state": "printing", "progress": 0.25, "seconds_left": 600.0, "message": ""}
    cache.set(live_key(printer.pk), {**live, "temperatures": {"tool0": [215, 215]}, "at": "now"})
    client = token_client(operator)
    listed = client.get("/api/v1/printers/")
    one = client.get(f"/api/v1/printers/{printer.pk}/")
    for response in (listed, one):
        assert response.status_code == 200
        for secret in (
            b"S3CRET-KEY",
            b"ENCRYPTED-KEY",
            b"octopi-berlin-01",
            b"connection_settings",
        ):
            assert secret not in response.content
    shown = one.json()
    assert shown["connection_kind"] == "octoprint"
    assert shown["live"]["progress"] == 0.25
    assert shown["live"]["temperatures"] == {"tool0": [215, 215]}
    assert listed.json()["results"][0]["id"] == printer.pk


def test_the_queue_lists_open_jobs_in_the_dashboard_s_order(
    alice: User, operator: User, pla: Material, cube_upload: Any
) -> None:
    low = submit(alice, cube_upload("low.stl"), pla, priority=-1).json()
    rush = submit(alice, cube_upload("rush.stl"), pla, priority=2).json()
    done = submit(alice, cube_upload("old.stl"), pla).json()
    Job.objects.filter(pk=done["id"]).update(status=JobStatus.CANCELLED)
    queue = token_client(operator).get("/api/v1/queue/").json()["results"]
    assert [j["id"] for j in queue] == [rush["id"], low["id"]]


@pytest.mark.parametrize("path", ["/api/v1/sites/", "/api/v1/materials/"])
def test_employees_read_sites_and_materials(
    alice: User, site: Any, pla: Material, path: str
) -> None:
    response = token_client(alice).get(path)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_job_s_progress_counts_its_copies_on_printers_as_its_page_does(
    alice: User, pla: Material, make_printer: Any, cube_upload: Any
) -> None:
    printer = make_printer("berlin-01")
    job_id = submit(alice, cube_upload(), pla, quantity=2, confirm_required=False).json()["id"]
    job_prepare(job_id=job_id)
    run = claim(Job.objects.get(pk=job_id), printer)
    cache.set(live_key(printer.pk), {"state": "printing", "progress": 0.5})
    client = token_client(alice)
    listed = client.get("/api/v1/jobs/").json()["results"][0]
    shown = client.get(f"/api/v1/jobs/{job_id}/").json()
    assert listed["progress"] == shown["progress"] == 25  # half of one copy of two
    assert shown["copies"]["printing"] == 1
    assert [(r["id"], r["printer"], r["site"]) for r in shown["runs"]] == [
        (run.pk, "berlin-01", "berlin")
    ]


def test_supports_are_chosen_as_on_the_form_and_reach_the_print_profile(
    alice: User, pla: Material, cube_upload: Any
) -> None:
    from farm.services.preparation import profile_for

    left = submit(alice, cube_upload(), pla)
    assert left.json()["supports"] == "auto"
    asked = submit(alice, cube_upload(), pla, supports="off")
    assert asked.status_code == 201, asked.content
    job = Job.objects.get(pk=asked.json()["id"])
    assert job.supports == "off"
    assert profile_for(job, nozzle_mm=0.4, build_mm=(250.0, 210.0, 220.0)).supports == "off"
    wrong = submit(alice, cube_upload(), pla, supports="sometimes")
    assert wrong.status_code == 400 and "supports" in wrong.json()
    assert Job.objects.filter(owner=alice).count() == 2  # nothing saved for the bad one
