"""The questions about a job's part through the API: listed with the answers offered, a
quoted job with an open one cannot be confirmed (409), an answer goes through the service."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from farm.models import Material
from farm.services.preparation import job_prepare
from tests.api.conftest import token_client
from tests.farm.test_questions import metres_box, stl_upload


def quoted_in_metres(user: User, material: Material) -> int:
    client = token_client(user)
    upload = stl_upload(metres_box())
    response = client.post(
        "/api/v1/jobs/", {"file": upload, "material": material.pk}, format="multipart"
    )
    assert response.status_code == 201, response.content
    job_id = int(response.json()["id"])
    job_prepare(job_id=job_id)
    return job_id


def test_an_integration_reads_the_question_answers_it_and_confirms(
    alice: User, pla: Material, make_printer: Any
) -> None:
    make_printer("p1")
    job_id = quoted_in_metres(alice, pla)
    client = token_client(alice)
    (question,) = client.get(f"/api/v1/jobs/{job_id}/questions/").json()
    assert question["kind"] == "scale" and question["answer"] == ""
    assert question["text"] == "This part is 0.02 mm across: it looks like metres. Scale ×1000?"
    assert question["answers"] == [
        {"value": "scale", "label": "Scale ×1000"},
        {"value": "keep", "label": "Keep it as it is"},
    ]
    refused = client.post(f"/api/v1/jobs/{job_id}/confirm/")
    assert refused.status_code == 409
    assert "Answer the questions" in refused.json()["detail"]
    answered = client.post(
        f"/api/v1/jobs/{job_id}/answer/",
        {"question": question["id"], "answer": "scale"},
        format="json",
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "quoted"
    assert client.post(f"/api/v1/jobs/{job_id}/confirm/").json()["status"] == "queued"
    again = client.post(
        f"/api/v1/jobs/{job_id}/answer/", {"question": question["id"], "answer": "keep"}
    )
    assert again.status_code == 409


def test_keeping_the_scale_through_the_api_prepares_the_part_again(
    alice: User, pla: Material, make_printer: Any
) -> None:
    make_printer("p1")
    job_id = quoted_in_metres(alice, pla)
    client = token_client(alice)
    question = client.get(f"/api/v1/jobs/{job_id}/questions/").json()[0]
    answered = client.post(
        f"/api/v1/jobs/{job_id}/answer/", {"question": question["id"], "answer": "keep"}
    )
    assert answered.json()["status"] == "submitted"


def test_someone_elses_questions_are_not_found(
    alice: User, bob: User, pla: Material, make_printer: Any
) -> None:
    make_printer("p1")
    job_id = quoted_in_metres(alice, pla)
    assert token_client(bob).get(f"/api/v1/jobs/{job_id}/questions/").status_code == 404
    answer = {"question": 1, "answer": "scale"}
    assert token_client(bob).post(f"/api/v1/jobs/{job_id}/answer/", answer).status_code == 404
