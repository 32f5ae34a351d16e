"""Jobs: submit, prepare (after slicing), cancel, and keep the status in step with the runs."""

from __future__ import annotations

import datetime
import hashlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from farm.models import Job, Material, Printer, Site
from farm.models.job import EstimateSource, FileKind
from farm.roles import is_operator
from farm.services.enqueue import (
    enqueue_job_prepare,
    enqueue_printer_command,
    enqueue_schedule_pass,
)
from farm.services.events import event_record
from farm.statuses import JOB_OPEN, RUN_ACTIVE, JobStatus, RunStatus, check_job_transition
from slicing.intake import IntakeError, sniff
from slicing.prepare import Prepared, PrepareError, prepare
from slicing.profile import PrintProfile

log = logging.getLogger(__name__)


def job_validate(
    *,
    upload: UploadedFile | None,
    quantity: int | None,
    due: datetime.datetime | None,
) -> dict[str, str]:
    """Every problem with a submission, by field, in words for the person submitting."""
    errors: dict[str, str] = {}
    limit_mb = settings.FARM_MAX_UPLOAD_MB
    if upload is None:
        errors["file"] = "Choose a mesh (STL, OBJ, 3MF, PLY) or G-code file."
    elif upload.size is not None and upload.size > limit_mb * 1024 * 1024:
        errors["file"] = f"The file is larger than the {limit_mb} MB limit."
    else:
        try:
            sniff(upload.name or "", upload, upload.size or 0)
        except IntakeError as exc:
            errors["file"] = str(exc)
    maximum = settings.FARM_MAX_QUANTITY
    if quantity is None or quantity < 1:
        errors["quantity"] = "Ask for at least one copy."
    elif quantity > maximum:
        errors["quantity"] = (
            f"At most {maximum:,} copies per job; split a larger order or ask an operator."
        )
    if due is not None and due <= timezone.now():
        errors["due"] = "The due date is in the past."
    return errors


def job_submit(
    *,
    owner: Any,
    upload: UploadedFile,
    material: Material,
    quantity: int,
    colour: str = "",
    priority: int = 0,
    due: datetime.datetime | None = None,
    notes: str = "",
    site: Site | None = None,
    needed_at: Site | None = None,
    confirm_required: bool = False,
) -> Job:
    """Save a job and start preparing its file. Nothing is saved when anything is wrong.

    With `confirm_required`, the prepared job waits (QUOTED) until its owner has seen the
    completion time the farm can promise and confirmed it.
    """
    errors = job_validate(upload=upload, quantity=quantity, due=due)
    if errors:
        raise ValidationError(errors)
    sniffed = sniff(upload.name or "", upload, upload.size or 0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    job = Job(
        owner=owner,
        name=(upload.name or "part")[:200],
        file_kind=FileKind.GCODE if sniffed.kind == "gcode" else FileKind.MESH,
        file_sha256=digest.hexdigest(),
        file_bytes=upload.size or 0,
        quantity=quantity,
        material=material,
        colour=colour.strip(),
        priority=priority,
        due=due,
        notes=notes,
        site=site,
        needed_at=needed_at,
        confirm_required=confirm_required,
    )
    try:
        with transaction.atomic():
            job.file.save(f"upload.{sniffed.suffix}", upload, save=False)
            job.save()
            event_record("job.submitted", job=job, actor=owner, quantity=quantity)
            enqueue_job_prepare(job.pk)
    except BaseException:
        # The row rolled back; do not leave the stored file behind.
        if job.file:
            job.file.storage.delete(job.file.name)
        raise
    return job


def profile_for(
    job: Job, *, nozzle_mm: float, build_mm: tuple[float, float, float]
) -> PrintProfile:
    material = job.material
    return PrintProfile(
        nozzle_mm=nozzle_mm,
        build_mm=build_mm,
        filament_diameter_mm=material.filament_diameter_mm,
        density_g_cm3=material.density_g_cm3,
        nozzle_temp_c=material.nozzle_temp_c,
        bed_temp_c=material.bed_temp_c,
        material=material.name,
    )


def farm_nozzle() -> float:
    """The nozzle most of the farm's printers carry: meshes are sliced for it."""
    common = (
        Printer.objects.filter(enabled=True)
        .values("nozzle_mm")
        .annotate(n=Count("id"))
        .order_by("-n", "nozzle_mm")
        .first()
    )
    return float(common["nozzle_mm"]) if common else PrintProfile.nozzle_mm


def job_prepare(*, job_id: int) -> None:
    """Check and slice the job's file (in a worker), then queue it. Safe to run twice.

    A mesh is sliced for the smallest bed of the farm it fits: G-code placed on a small bed
    (origin at its corner) is in bounds on every larger one, so the copies can go to any
    printer big enough for the part.
    """
    job = Job.objects.select_related("material").get(pk=job_id)
    if job.status != JobStatus.SUBMITTED:
        return
    beds = sorted(farm_build_volumes(), key=lambda b: (b[0] * b[1], b[2])) or [
        PrintProfile.build_mm
    ]
    nozzle = farm_nozzle()
    result: Prepared | None = None
    for index, bed in enumerate(beds):
        profile = profile_for(job, nozzle_mm=nozzle, build_mm=bed)
        try:
            result = _prepare_plate(job, profile, beds)
            break
        except (PrepareError, ValueError) as exc:
            too_big_here = "does not fit this printer" in str(exc)
            if too_big_here and index + 1 < len(beds) and job.file_kind == FileKind.MESH:
                continue  # try the next bigger bed
            job_reject(job_id=job.pk, reason=str(exc))
            return
    assert result is not None
    if result.estimate_source == "sliced" and result.nozzle_mm is None:
        result = replace(result, nozzle_mm=nozzle)
    job_accept_prepared(job_id=job.pk, prepared=result)


def _prepare_plate(
    job: Job, profile: PrintProfile, beds: list[tuple[float, float, float]]
) -> Prepared:
    """Slice as many copies on one plate as fit (up to FARM_MAX_COPIES_PER_PLATE), choosing a
    plate size that divides the quantity, so every run prints exactly the copies it counts."""
    wanted = max(1, min(job.quantity, settings.FARM_MAX_COPIES_PER_PLATE))

    def run(copies: int) -> Prepared:
        return prepare(
            Path(job.file.path),
            job.file_kind,
            profile,
            out_dir=Path(settings.MEDIA_ROOT) / "gcode",
            build_volumes=beds,
            copies=copies,
        )

    result = run(wanted)
    fit = max(1, result.copies_per_plate)
    plate = max(d for d in range(1, fit + 1) if job.quantity % d == 0)
    return result if plate == result.copies_per_plate else run(plate)


def farm_build_volumes() -> list[tuple[float, float, float]]:
    """Every distinct build volume in the farm, so a part that fits no printer is refused."""
    rows = Printer.objects.filter(enabled=True).values_list(
        "build_x_mm", "build_y_mm", "build_z_mm"
    )
    return sorted(set(rows))


def job_accept_prepared(*, job_id: int, prepared: Prepared) -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.SUBMITTED:
            return
        target = JobStatus.QUOTED if job.confirm_required else JobStatus.QUEUED
        check_job_transition(job.status, target)
        job.status = target
        job.estimate_source = {
            "mesh_volume": EstimateSource.MESH_VOLUME,
            "gcode": EstimateSource.GCODE,
            "sliced": EstimateSource.SLICED,
        }[prepared.estimate_source]
        job.seconds_per_copy = prepared.seconds_per_copy
        job.grams_per_copy = prepared.grams_per_copy
        job.size_x_mm, job.size_y_mm, job.size_z_mm = prepared.size_mm
        job.nozzle_mm = prepared.nozzle_mm
        job.engine = prepared.engine[:100]
        job.copies_per_plate = max(1, prepared.copies_per_plate)
        job.layers = prepared.layers
        job.engine_reason = prepared.engine_reason[:300]
        if prepared.gcode_path is not None:
            job.gcode.name = _storage_name(prepared.gcode_path)
        if prepared.thumbnail_path is not None:
            job.thumbnail.name = _storage_name(prepared.thumbnail_path)
        job.save()
        event_record(
            "job.prepared",
            job=job,
            message="; ".join(prepared.notes),
            seconds_per_copy=round(prepared.seconds_per_copy),
            source=prepared.estimate_source,
            engine=prepared.engine,
        )
        enqueue_schedule_pass()


def _storage_name(path: Path) -> str:
    absolute = Path(path).resolve()
    root = Path(settings.MEDIA_ROOT).resolve()
    return str(absolute.relative_to(root)) if absolute.is_relative_to(root) else str(absolute)


def job_reject(*, job_id: int, reason: str) -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.SUBMITTED:
            return
        check_job_transition(job.status, JobStatus.REJECTED)
        job.status = JobStatus.REJECTED
        job.status_reason = reason
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "status_reason", "finished_at"])
        event_record("job.rejected", job=job, message=reason)


def job_confirm(*, job: Job, actor: Any) -> None:
    """The owner accepts the quoted completion time: the job joins the queue."""
    if job.owner_id != actor.pk and not is_operator(actor):
        raise PermissionDenied("You can only confirm your own jobs.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status != JobStatus.QUOTED:
            raise ValidationError(
                f"A {job.get_status_display().lower()} job needs no confirmation."
            )
        check_job_transition(job.status, JobStatus.QUEUED)
        job.status = JobStatus.QUEUED
        job.confirmed_at = timezone.now()
        job.save(update_fields=["status", "confirmed_at"])
        event_record(
            "job.confirmed",
            job=job,
            actor=actor,
            quoted_end=job.planned_end.isoformat() if job.planned_end else None,
        )
        enqueue_schedule_pass()


def job_visible_to(user: Any) -> Any:
    """The jobs a user may see: their own, or all of them for operators."""
    if is_operator(user):
        return Job.objects.all()
    return Job.objects.filter(owner=user)


def job_cancel(*, job: Job, actor: Any) -> None:
    """Cancel a job; its active runs are stopped on their printers."""
    if job.owner_id != actor.pk and not is_operator(actor):
        raise PermissionDenied("You can only cancel your own jobs.")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in JOB_OPEN:
            raise ValidationError(f"A {job.get_status_display().lower()} job cannot be cancelled.")
        check_job_transition(job.status, JobStatus.CANCELLED)
        for run in job.runs.select_for_update().filter(status__in=RUN_ACTIVE):
            run.status = RunStatus.CANCELLED
            run.ended_at = timezone.now()
            run.failure_reason = "the job was cancelled"
            run.save(update_fields=["status", "ended_at", "failure_reason"])
            # Whatever was printed stays on the bed until a person takes it off.
            run.printer.bed_clear = False
            run.printer.save(update_fields=["bed_clear"])
            enqueue_printer_command(run.printer_id, "cancel")
            event_record("run.cancelled", run=run, actor=actor)
        job.status = JobStatus.CANCELLED
        job.finished_at = timezone.now()
        job.planned_start = job.planned_end = None
        job.save(update_fields=["status", "finished_at", "planned_start", "planned_end"])
        event_record("job.cancelled", job=job, actor=actor)
        enqueue_schedule_pass()


def copies_summary(job: Job) -> dict[str, int]:
    """How many copies are done (off the bed), printed, printing, and still waiting."""
    done = printed = printing = 0
    for status, copies in job.runs.values_list("status", "copies"):
        if status == RunStatus.DONE:
            done += copies
        if status in (RunStatus.DONE, RunStatus.AWAITING_REMOVAL):
            printed += copies
        elif status in RUN_ACTIVE:
            printing += copies
    waiting = max(0, job.quantity - printed - printing)
    return {"done": done, "printed": printed, "printing": printing, "waiting": waiting}


def job_refresh_status(*, job: Job) -> None:
    """Move the job's status to match its runs (call inside the transaction that changed them)."""
    if job.status not in (JobStatus.QUEUED, JobStatus.PRINTING):
        return
    counts = copies_summary(job)
    if counts["done"] >= job.quantity:
        target = JobStatus.DONE
    elif counts["printing"] or counts["printed"]:
        target = JobStatus.PRINTING  # on a printer, or on a bed waiting to be taken off
    else:
        target = JobStatus.QUEUED
    if target == job.status:
        return
    check_job_transition(job.status, target)
    job.status = target
    fields = ["status"]
    if target == JobStatus.DONE:
        job.finished_at = timezone.now()
        job.planned_start = job.planned_end = None
        fields += ["finished_at", "planned_start", "planned_end"]
    job.save(update_fields=fields)
    event_record(f"job.{target}", job=job)
