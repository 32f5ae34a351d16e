"""Questions to a job's owner instead of silent fixes: a part that looks drawn in metres or
inches (scale it?), a mesh that was repaired (print the repair?), features thinner than the
nozzle prints (print anyway?).

Preparing the job asks them (`questions_ask`, from the prepared result); the job then waits,
quoted, with the quote for the fix suggested, so its owner sees what it costs and when it is
done either way. An answer that agrees with the fix keeps the quote; "keep it as it is"
prepares the part again at its drawn scale; refusing the repair cancels the job. Once every
question has its answer a job that needs no confirmation joins the queue by itself.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from farm.models import Job, JobQuestion
from farm.models.event import EventKind
from farm.models.question import ANSWERS, QuestionAnswer, QuestionKind
from farm.roles import is_operator
from farm.services.enqueue import enqueue_job_prepare, enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.jobs import job_cancel
from farm.statuses import JobStatus, check_job_transition
from slicing.prepare import Prepared

UNITS = {1000.0: "metres", 25.4: "inches"}


def scale_question_text(drawn_mm: tuple[float, float, float], factor: float) -> str:
    unit = UNITS.get(factor, f"units {factor:g} times too small")
    return f"This part is {max(drawn_mm):.3g} mm across: it looks like {unit}. Scale ×{factor:g}?"


def repair_question_text(repairs: list[str]) -> str:
    return f"The mesh was repaired: {'; '.join(repairs)}. Print the repaired part?"


def thin_question_text(thinnest_mm: float, share: float, nozzle_mm: float | None) -> str:
    nozzle = f"the {nozzle_mm:g} mm nozzle" if nozzle_mm else "the nozzle"
    return (
        f"Parts of this part are thinner than {nozzle} can print (about {thinnest_mm:.2f} mm, "
        f"on {share:.0%} of its height): they may print thinner than drawn, or not at all. "
        "Print it anyway?"
    )


def job_open_questions(job: Job) -> QuerySet[JobQuestion]:
    return job.questions.filter(answer="")


def job_chosen_scale(job: Job) -> float | None:
    """The scale its owner chose for the part (1: as drawn), None when never asked."""
    answered = job.questions.filter(kind=QuestionKind.SCALE).exclude(answer="").last()
    if answered is None:
        return None
    return float(answered.factor or 1.0) if answered.answer == QuestionAnswer.SCALE else 1.0


def questions_for(job: Job, prepared: Prepared) -> list[JobQuestion]:
    """What the preparation of `job` found to ask its owner, unless they answered that kind
    already (unsaved: `questions_put` asks them)."""
    answered = set(job.questions.exclude(answer="").values_list("kind", flat=True))
    asked: list[JobQuestion] = []
    if (
        prepared.scale_hint is not None
        and prepared.drawn_mm is not None
        and QuestionKind.SCALE not in answered
    ):
        text = scale_question_text(prepared.drawn_mm, prepared.scale_hint)
        asked.append(
            JobQuestion(job=job, kind=QuestionKind.SCALE, text=text, factor=prepared.scale_hint)
        )
    if prepared.repairs and QuestionKind.REPAIR not in answered:
        text = repair_question_text(prepared.repairs)[:500]
        asked.append(JobQuestion(job=job, kind=QuestionKind.REPAIR, text=text))
    if prepared.thin_mm is not None and QuestionKind.THIN not in answered:
        text = thin_question_text(prepared.thin_mm, prepared.thin_share, prepared.nozzle_mm)
        asked.append(JobQuestion(job=job, kind=QuestionKind.THIN, text=text))
    return asked


def questions_put(questions: list[JobQuestion]) -> None:
    for question in questions:
        question.save()
        event_record(
            EventKind.JOB_ASKED, job=question.job, message=question.text, question=question.kind
        )


def job_answer(*, job: Job, actor: User, question_id: int, answer: str) -> None:
    """Its owner (or an operator) answers one of the job's questions."""
    if job.owner_id != actor.pk and not is_operator(actor):
        raise PermissionDenied("You can only answer questions about your own jobs.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        question = job.questions.filter(pk=question_id).first()
        if question is None:
            raise ValidationError("This job has no such question.")
        if not question.is_open:
            raise ValidationError("This question has been answered already.")
        if answer not in ANSWERS[question.kind]:
            offered = ", ".join(ANSWERS[question.kind])
            raise ValidationError(f"The answers to this question are: {offered}.")
        if job.status != JobStatus.QUOTED:
            raise ValidationError(f"A {job.get_status_display().lower()} job asks nothing now.")
        question.answer = answer
        question.answered_at = timezone.now()
        question.answered_by = actor
        question.save(update_fields=["answer", "answered_at", "answered_by"])
        label = dict(question.answers)[answer]
        event_record(
            EventKind.JOB_ANSWERED,
            job=job,
            actor=actor,
            message=f"{question.text} {label}.",
            question=question.kind,
            answer=answer,
        )
        if question.kind == QuestionKind.SCALE and answer == QuestionAnswer.KEEP:
            _prepare_again(job)
        elif answer == QuestionAnswer.CANCEL:
            pass  # below, outside the lock: job_cancel takes its own
        elif not job_open_questions(job).exists() and not job.confirm_required:
            _queue(job, actor)
    if answer == QuestionAnswer.CANCEL:
        job_cancel(job=job, actor=actor)


def _prepare_again(job: Job) -> None:
    """Back to SUBMITTED, its estimate and plan forgotten, for the slicing worker to prepare
    it at the chosen scale; what is still to ask is asked again of the new part."""
    check_job_transition(job.status, JobStatus.SUBMITTED)
    job_open_questions(job).delete()
    job.status = JobStatus.SUBMITTED
    job.seconds_per_copy = job.grams_per_copy = None
    job.size_x_mm = job.size_y_mm = job.size_z_mm = None
    job.planned_start = job.planned_end = None
    job.plan_note = ""
    job.layers = 0
    job.gcode.name = job.thumbnail.name = ""
    job.prepare_attempts = 0
    job.prepare_lease_until = None
    if job.approval_reason:  # the new part is judged afresh against the site's rules
        job.held = False
        job.approval_reason = job.approval_note = ""
        job.approval_decided_at = job.approved_by = None
    job.save()
    enqueue_job_prepare(job.pk)


def _queue(job: Job, actor: User) -> None:
    # a job waiting for approval is held: queued, it is still planned only once approved
    check_job_transition(job.status, JobStatus.QUEUED)
    job.status = JobStatus.QUEUED
    job.save(update_fields=["status"])
    event_record(EventKind.JOB_QUEUED, job=job, actor=actor)
    enqueue_schedule_pass()
