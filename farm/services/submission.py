"""Submitting a job: every check of the file and the order, then the job saved with its file."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from farm.models import Job, Material, Site
from farm.models.event import EventKind
from farm.models.job import FileKind, Supports
from farm.services.enqueue import enqueue_job_prepare
from farm.services.events import event_record
from farm.services.quotas import quota_check_submission
from slicing.errors import IntakeError
from slicing.intake import Sniffed, sniff


def upload_limit_bytes() -> int:
    """The one size rule for uploads: the streaming handler, the form and the service use it."""
    return int(settings.FARM_MAX_UPLOAD_MB) * 1024 * 1024


def upload_too_large_message() -> str:
    return f"The file is larger than the {settings.FARM_MAX_UPLOAD_MB} MB limit."


def job_validate(
    *,
    upload: File[bytes] | None,
    quantity: int | None,
    due: datetime.datetime | None,
) -> Sniffed:
    """Check a submission; raise ValidationError with every problem, by field, in words for
    the person submitting. Returns what the first look at the file found."""
    errors: dict[str, str] = {}
    sniffed: Sniffed | None = None
    if upload is None:
        errors["file"] = "Choose a mesh (STL, OBJ, 3MF, PLY) or G-code file."
    elif upload.size is not None and upload.size > upload_limit_bytes():
        errors["file"] = upload_too_large_message()
    else:
        try:
            sniffed = sniff(upload.name or "", cast(BinaryIO, upload), upload.size or 0)
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
    if errors or sniffed is None:
        raise ValidationError(errors)
    return sniffed


def job_submit(
    *,
    owner: User,
    upload: File[bytes],
    material: Material,
    quantity: int,
    colour: str = "",
    priority: int = 0,
    due: datetime.datetime | None = None,
    notes: str = "",
    site: Site | None = None,
    needed_at: Site | None = None,
    confirm_required: bool = False,
    supports: str = Supports.AUTO,
    again_from: Job | None = None,
) -> Job:
    """Save a job and start preparing its file. Nothing is saved when anything is wrong.

    With `confirm_required`, the prepared job waits (QUOTED) until its owner has seen the
    completion time the farm can promise and confirmed it. `again_from`: the past job this
    one prints again (its history says so).
    """
    sniffed = job_validate(upload=upload, quantity=quantity, due=due)
    quota_check_submission(owner)
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
        supports=supports,
    )
    try:
        with transaction.atomic():
            job.file.save(f"upload.{sniffed.suffix}", upload, save=False)
            job.save()
            again: dict[str, Any] = {"again_from": again_from.pk} if again_from else {}
            event_record(
                EventKind.JOB_SUBMITTED,
                job=job,
                actor=owner,
                message=f"printed again from job #{again_from.pk}" if again_from else "",
                quantity=quantity,
                **again,
            )
    except BaseException:
        # The row rolled back; do not leave the stored file behind.
        if job.file:
            job.file.storage.delete(job.file.name)
        raise
    # Outside the block above: whatever sending the task does, the saved job keeps its file
    # (the sweep sends it again from the database if the broker is down).
    enqueue_job_prepare(job.pk)
    return job
