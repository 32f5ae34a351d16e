"""Questions to a job's owner instead of silent fixes: a part drawn in metres waits, quoted at
the suggested scale, until its owner agrees (the quote stands) or keeps it as it is (prepared
again at that scale); a repaired mesh waits until its owner accepts the repair or cancels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import trimesh
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from farm.models import Job
from farm.models.event import EventKind
from farm.models.job import Supports
from farm.models.question import QuestionAnswer, QuestionKind
from farm.services.jobs import job_confirm
from farm.services.preparation import job_prepare
from farm.services.questions import job_answer, job_open_questions
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from slicing.sample_parts import fin_part


def stl_upload(mesh: trimesh.Trimesh, name: str = "part.stl") -> SimpleUploadedFile:
    data = mesh.export(file_type="stl")
    assert isinstance(data, bytes)
    return SimpleUploadedFile(name, data)


def metres_box() -> trimesh.Trimesh:
    """A 20 × 20 × 10 mm box drawn in metres."""
    return trimesh.creation.box((0.02, 0.02, 0.01))


def holed_box() -> trimesh.Trimesh:
    """A 20 mm box with one triangle missing: a hole the checks close."""
    box = trimesh.creation.box((20.0, 20.0, 20.0))
    keep = np.ones(len(box.faces), dtype=bool)
    keep[0] = False
    box.update_faces(keep)
    return box


def ball() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(radius=10.0)


def prepared(owner: Any, material: Any, mesh: trimesh.Trimesh, **order: Any) -> Job:
    job = job_submit(owner=owner, upload=stl_upload(mesh), material=material, quantity=1, **order)
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


@pytest.fixture(autouse=True)
def _printer(make_printer: Any) -> None:
    make_printer("p1")


def test_a_part_in_metres_waits_quoted_at_the_suggested_scale_with_the_question(
    alice: Any, pla: Any
) -> None:
    job = prepared(alice, pla, metres_box(), confirm_required=True)
    assert job.status == JobStatus.QUOTED
    (question,) = job_open_questions(job)
    assert question.kind == QuestionKind.SCALE
    assert question.text == "This part is 0.02 mm across: it looks like metres. Scale ×1000?"
    assert question.answers == [("scale", "Scale ×1000"), ("keep", "Keep it as it is")]
    assert job.size is not None and max(job.size) == pytest.approx(20.0)
    assert job.events.filter(kind=EventKind.JOB_ASKED).exists()


def test_it_cannot_be_confirmed_before_the_question_has_its_answer(alice: Any, pla: Any) -> None:
    job = prepared(alice, pla, metres_box(), confirm_required=True)
    with pytest.raises(ValidationError, match="Answer the questions"):
        job_confirm(job=job, actor=alice)


def test_agreeing_to_the_scale_keeps_the_quote_and_lets_it_be_confirmed(
    alice: Any, pla: Any
) -> None:
    job = prepared(alice, pla, metres_box(), confirm_required=True)
    seconds = job.seconds_per_copy
    question = job_open_questions(job).get()
    job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.SCALE)
    job.refresh_from_db()
    assert (job.status, job.seconds_per_copy) == (JobStatus.QUOTED, seconds)
    job_confirm(job=job, actor=alice)
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_keeping_the_scale_prepares_the_part_again_as_drawn(
    alice: Any, pla: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = prepared(alice, pla, metres_box(), confirm_required=True)
    question = job_open_questions(job).get()
    with django_capture_on_commit_callbacks() as callbacks:
        job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.KEEP)
    job.refresh_from_db()
    assert (job.status, job.seconds_per_copy, job.planned_end) == (JobStatus.SUBMITTED, None, None)
    assert len(callbacks) == 1  # the slicing task again
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    # 0.02 mm cannot be printed: refused with the reason, and not asked again
    assert job.status == JobStatus.REJECTED
    assert "too small to print" in job.status_reason
    assert job.questions.count() == 1


def test_a_job_that_needs_no_confirmation_waits_for_the_answer_then_queues(
    alice: Any, pla: Any
) -> None:
    job = prepared(alice, pla, metres_box(), confirm_required=False)
    assert job.status == JobStatus.QUOTED
    question = job_open_questions(job).get()
    job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.SCALE)
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_a_repaired_mesh_says_what_was_repaired_and_waits(alice: Any, pla: Any) -> None:
    job = prepared(alice, pla, holed_box(), confirm_required=False)
    assert job.status == JobStatus.QUOTED
    question = job_open_questions(job).get()
    assert question.kind == QuestionKind.REPAIR
    assert question.text.startswith("The mesh was repaired: the mesh had holes (")
    assert question.text.endswith("they were closed. Print the repaired part?")
    job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.ACCEPT)
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_refusing_the_repair_cancels_the_job(alice: Any, pla: Any) -> None:
    job = prepared(alice, pla, holed_box(), confirm_required=True)
    question = job_open_questions(job).get()
    job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.CANCEL)
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED


def test_a_clean_mesh_in_millimetres_asks_nothing(alice: Any, pla: Any, cube_upload: Any) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    assert not Job.objects.get(pk=job.pk).questions.exists()


def test_only_its_owner_or_an_operator_answers_and_only_once(
    alice: Any, bob: Any, operator: Any, pla: Any
) -> None:
    job = prepared(alice, pla, metres_box(), confirm_required=True)
    question = job_open_questions(job).get()
    with pytest.raises(PermissionDenied):
        job_answer(job=job, actor=bob, question_id=question.pk, answer=QuestionAnswer.SCALE)
    with pytest.raises(ValidationError, match="answers to this question"):
        job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.ACCEPT)
    job_answer(job=job, actor=operator, question_id=question.pk, answer=QuestionAnswer.SCALE)
    with pytest.raises(ValidationError, match="answered already"):
        job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.KEEP)


def test_supports_the_farm_adds_are_said_on_the_quote_not_asked(alice: Any, pla: Any) -> None:
    # Left to the farm, a ball gets supports (it overhangs at its foot however it is turned);
    # the quote says so and the job joins the queue without waiting for an answer.
    job = prepared(alice, pla, ball(), confirm_required=False)
    assert job.supports == Supports.AUTO
    assert not job.questions.exists()
    assert job.status == JobStatus.QUEUED
    prepared_event = job.events.get(kind=EventKind.JOB_PREPARED)
    assert "supports added under overhangs steeper than 55°" in prepared_event.message


def test_a_feature_thinner_than_the_nozzle_is_a_question(alice: Any, pla: Any) -> None:
    job = prepared(alice, pla, fin_part(0.25), confirm_required=False)
    assert job.status == JobStatus.QUOTED
    question = job_open_questions(job).get()
    assert question.kind == QuestionKind.THIN
    assert question.text.startswith("Parts of this part are thinner than the 0.4 mm nozzle")
    assert "about 0.25 mm" in question.text
    assert question.answers == [("print_anyway", "Print it anyway"), ("cancel", "Cancel the job")]
    job_answer(job=job, actor=alice, question_id=question.pk, answer=QuestionAnswer.PRINT_ANYWAY)
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_a_wall_wider_than_the_nozzle_asks_nothing(alice: Any, pla: Any) -> None:
    job = prepared(alice, pla, fin_part(0.6), confirm_required=False)
    assert not job.questions.exists()
    assert job.status == JobStatus.QUEUED
