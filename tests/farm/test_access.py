"""Every page needs a log-in and the right role; employees see only their own jobs."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import FileResponse
from django.test import Client

from farm.models import Job
from farm.services.submission import job_submit
from farm.statuses import JobStatus


@pytest.fixture
def alices_job(alice: Any, pla: Any, cube_upload: Any) -> Job:
    return job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)


@pytest.mark.parametrize("url", ["/", "/jobs/", "/jobs/new/", "/operator/", "/jobs/1/"])
def test_it_sends_anonymous_visitors_to_the_log_in_page(client: Client, db: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_log_in_page_is_served(client: Client, db: Any) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_an_employee_cannot_see_another_employees_job(
    client: Client, bob: Any, alices_job: Job
) -> None:
    client.force_login(bob)
    assert client.get(f"/jobs/{alices_job.pk}/").status_code == 404
    assert alices_job.name.encode() not in client.get("/jobs/").content


def test_an_employee_cannot_cancel_another_employees_job(
    client: Client, bob: Any, alices_job: Job
) -> None:
    client.force_login(bob)
    response = client.post(f"/jobs/{alices_job.pk}/cancel/")
    assert response.status_code == 404
    alices_job.refresh_from_db()
    assert alices_job.status == JobStatus.SUBMITTED


def test_an_employee_cancels_her_own_job(client: Client, alice: Any, alices_job: Job) -> None:
    client.force_login(alice)
    response = client.post(f"/jobs/{alices_job.pk}/cancel/")
    assert response.status_code == 302
    alices_job.refresh_from_db()
    assert alices_job.status == JobStatus.CANCELLED
    assert alices_job.events.filter(kind="job.cancelled", actor=alice).exists()


def test_cancelling_needs_a_post(client: Client, alice: Any, alices_job: Job) -> None:
    client.force_login(alice)
    assert client.get(f"/jobs/{alices_job.pk}/cancel/").status_code == 405


def test_an_employee_cannot_open_the_dashboard(client: Client, alice: Any) -> None:
    client.force_login(alice)
    assert client.get("/operator/").status_code == 403


def test_an_employee_cannot_clear_a_bed(client: Client, alice: Any, make_printer: Any) -> None:
    printer = make_printer(bed_clear=False)
    client.force_login(alice)
    assert client.post(f"/operator/printers/{printer.pk}/clear/").status_code == 403
    printer.refresh_from_db()
    assert not printer.bed_clear


def test_an_employee_cannot_use_the_admin(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_an_operator_sees_every_printer_and_the_queue(
    client: Client, operator: Any, make_printer: Any, alices_job: Job
) -> None:
    make_printer("berlin-01")
    client.force_login(operator)
    response = client.get("/operator/")
    assert response.status_code == 200
    assert b"berlin-01" in response.content
    assert alices_job.name.encode() in response.content
    partial = client.get("/operator/?partial=1")
    assert b"berlin-01" in partial.content and b"<html" not in partial.content


def test_an_operator_can_open_any_job(client: Client, operator: Any, alices_job: Job) -> None:
    client.force_login(operator)
    assert client.get(f"/jobs/{alices_job.pk}/").status_code == 200


def test_the_admin_lists_printers_without_their_secrets(
    client: Client, admin_user: Any, make_printer: Any
) -> None:
    printer = make_printer("octo-1", secret_encrypted="gAAAA-ciphertext-here")
    client.force_login(admin_user)
    response = client.get(f"/admin/farm/printer/{printer.pk}/change/")
    assert response.status_code == 200
    assert b"gAAAA-ciphertext-here" not in response.content


def test_the_part_picture_is_shown_only_to_those_who_may_see_the_job(
    client: Client, alice: Any, bob: Any, alices_job: Job
) -> None:
    from farm.services.preparation import job_prepare

    job_prepare(job_id=alices_job.pk)
    client.force_login(alice)
    response = client.get(f"/jobs/{alices_job.pk}/thumbnail.png")
    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    client.force_login(bob)
    assert client.get(f"/jobs/{alices_job.pk}/thumbnail.png").status_code == 404


def test_the_admin_printer_form_keeps_the_api_key_write_only(
    client: Client, admin_user: Any, make_printer: Any
) -> None:
    from printers.secrets import encrypt

    printer = make_printer(
        "octo-2",
        connection_kind="octoprint",
        connection_settings={"url": "http://127.0.0.1:1"},
        secret_encrypted=encrypt("ABCDEF0123456789SECRETKEY"),
    )
    client.force_login(admin_user)
    page = client.get(f"/admin/farm/printer/{printer.pk}/change/").content
    assert b"ABCDEF0123456789SECRETKEY" not in page
    assert b'type="password"' in page


def test_the_submission_page_title_is_plain_text(client: Client, alice: Any) -> None:
    client.force_login(alice)
    page = client.get("/jobs/new/").content.decode()
    title = page.split("<title>")[1].split("</title>")[0]
    assert title == "Submit a part · Farm manager"
