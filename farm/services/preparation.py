"""Preparing a job (in a slicing worker): check and slice its file, then queue or reject it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import (
    DatabaseError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import Count, F, Q
from django.utils import timezone

from farm.models import Job, Printer
from farm.models.event import EventKind
from farm.models.job import EstimateSource, FileKind
from farm.services.approvals import approval_needed, job_hold_for_approval
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.leases import lease_claim, lease_heartbeat, lease_holder, lease_lapse
from farm.services.memory import memory_limit
from farm.services.questions import job_chosen_scale, questions_for, questions_put
from farm.services.quotas import quota_overrun
from farm.services.slice_cache import slice_cache_count
from farm.slicing_config import slicing_limits
from farm.statuses import JobStatus, check_job_transition
from slicing.errors import GcodePolicyError, PartTooLargeError, PrepareError
from slicing.prepare import Prepared, prepare
from slicing.profile import PrintProfile


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
        supports=job.supports,  # the job's ask, or "auto": the engine adds them when needed
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


def farm_build_volumes() -> list[tuple[float, float, float]]:
    """Every distinct build volume in the farm, so a part that fits no printer is refused."""
    rows = Printer.objects.filter(enabled=True).values_list(
        "build_x_mm", "build_y_mm", "build_z_mm"
    )
    return sorted(set(rows))


# A job whose preparation was started this often without finishing (its worker died each
# time: killed, out of memory) is rejected rather than tried forever.
MAX_PREPARE_ATTEMPTS = 3
PREPARE = "prepare"  # the lease's field prefix on Job


def job_prepare(*, job_id: int, holder: str | None = None, memory_mb: int = 0) -> None:
    """Check and slice the job's file (in a worker), then queue it. Safe to run twice.

    The worker holds the job's lease while it works (`holder`: the task's id), so a second
    message for the same job does nothing while the first worker is alive. With `memory_mb`,
    the slice may add at most that much memory to this process; past it the job is rejected.

    A mesh is sliced for the smallest bed of the farm it fits: G-code placed on a small bed
    (origin at its corner) is in bounds on every larger one, so the copies can go to any
    printer big enough for the part. An uploaded G-code is checked against every kind of
    printer of the farm and accepted when one of them can print it; the scheduler then places
    it only on printers it reaches (it cannot be turned or moved).
    """
    holder = lease_holder(holder)
    if not job_claim_preparation(job_id=job_id, holder=holder):
        return  # prepared already, or a live worker is preparing it (a repeated message)
    job = Job.objects.select_related("material").get(pk=job_id)
    if job.prepare_attempts > MAX_PREPARE_ATTEMPTS:
        job_reject(
            job_id=job.pk,
            reason=f"checking and slicing the file stopped {job.prepare_attempts - 1} times "
            "without finishing (the worker was lost, perhaps out of memory); ask an operator",
        )
        return
    try:
        with lease_heartbeat(Job, job.pk, prefix=PREPARE, holder=holder):
            record = _prepare_within(job, memory_mb)
            _outlasting_a_database_restart(record)
    except BaseException:
        # Unfinished (out of time, the database gone for long): let the sweep send it again
        # at once rather than when the lease runs out. The caller decides what to say.
        with contextlib.suppress(DatabaseError):
            lease_lapse(Job, job.pk, prefix=PREPARE, holder=holder)
        raise


def _prepare_within(job: Job, memory_mb: int) -> Callable[[], None]:
    """Slice within the memory budget; what then records the outcome on the job."""
    try:
        with memory_limit(memory_mb):
            if job.file_kind == FileKind.GCODE:
                result = _prepare_gcode_upload(job)
            else:
                result = _prepare_mesh(job)
    except PrepareError as exc:  # the file cannot be printed: say why on the job
        return partial(job_reject, job_id=job.pk, reason=str(exc))
    except MemoryError:  # it would again: say so on the job
        return partial(
            job_reject,
            job_id=job.pk,
            reason=f"checking and slicing the file needed more than {memory_mb} MB of memory; "
            "simplify the mesh or ask an operator",
        )
    return partial(job_accept_prepared, job_id=job.pk, prepared=result)


# A finished slice is minutes of work and a database restart seconds: wait this long for the
# database before giving the slice up (the sweep would then redo it).
DATABASE_WAIT_SECONDS = 60.0


def _outlasting_a_database_restart(record: Callable[[], None]) -> None:
    deadline = time.monotonic() + DATABASE_WAIT_SECONDS
    while True:
        if not connection.in_atomic_block:
            # The connection may be dead (a restart during the slice): check it anew, as
            # Celery does before each task.
            close_old_connections()
        try:
            record()
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def job_claim_preparation(*, job_id: int, holder: str) -> bool:
    """Take the job's preparation lease (a conditional UPDATE: one live holder at a time)."""
    return lease_claim(
        Job,
        job_id,
        prefix=PREPARE,
        holder=holder,
        condition=Q(status=JobStatus.SUBMITTED),
        prepare_attempts=F("prepare_attempts") + 1,
    )


def _prepare_mesh(job: Job) -> Prepared:
    beds = sorted(farm_build_volumes(), key=lambda b: (b[0] * b[1], b[2])) or [
        PrintProfile.build_mm
    ]
    nozzle = farm_nozzle()
    for bed in beds[:-1]:
        try:
            return _with_nozzle(
                _prepare_plate(job, profile_for(job, nozzle_mm=nozzle, build_mm=bed), beds), nozzle
            )
        except PartTooLargeError:
            continue  # try the next bigger bed
    return _with_nozzle(
        _prepare_plate(job, profile_for(job, nozzle_mm=nozzle, build_mm=beds[-1]), beds), nozzle
    )


def _with_nozzle(result: Prepared, nozzle: float) -> Prepared:
    if result.estimate_source == EstimateSource.SLICED and result.nozzle_mm is None:
        return replace(result, nozzle_mm=nozzle)
    return result


def farm_printer_kinds() -> list[tuple[tuple[float, float, float], float]]:
    """Every distinct (build volume, nozzle) among the enabled printers, smallest bed first."""
    rows = Printer.objects.filter(enabled=True).values_list(
        "build_x_mm", "build_y_mm", "build_z_mm", "nozzle_mm"
    )
    kinds = {((x, y, z), nozzle) for x, y, z, nozzle in rows}
    return sorted(kinds, key=lambda k: (k[0][0] * k[0][1], k[0][2], k[1]))


def _prepare_gcode_upload(job: Job) -> Prepared:
    """Accept an uploaded G-code that some printer of the farm can print; else say why, naming
    the printers it was checked against."""
    kinds = farm_printer_kinds() or [(PrintProfile.build_mm, PrintProfile.nozzle_mm)]
    refusals: list[str] = []
    for bed, nozzle in kinds:
        try:
            return _prepare_plate(job, profile_for(job, nozzle_mm=nozzle, build_mm=bed), [bed])
        except GcodePolicyError:
            raise  # no printer may run it: say so, not which printers were tried
        except PrepareError as exc:
            refusals.append(str(exc))
    printers = ", ".join(
        f"{x:g} × {y:g} × {z:g} mm with a {n:g} mm nozzle" for (x, y, z), n in kinds
    )
    raise PrepareError(f"no printer of the farm can print this G-code ({printers}): {refusals[-1]}")


def _prepare_plate(
    job: Job, profile: PrintProfile, beds: list[tuple[float, float, float]]
) -> Prepared:
    """Slice as many copies on one plate as fit (up to FARM_MAX_COPIES_PER_PLATE), choosing a
    plate size that divides the quantity, so every run prints exactly the copies it counts."""
    wanted = max(1, min(job.quantity, settings.FARM_MAX_COPIES_PER_PLATE))
    scale = job_chosen_scale(job)

    def run(copies: int) -> Prepared:
        prepared = prepare(
            Path(job.file.path),
            job.file_kind,
            profile,
            out_dir=Path(settings.MEDIA_ROOT) / "gcode",
            build_volumes=beds,
            copies=copies,
            limits=slicing_limits(),
            name=job.name,  # refusals name the user's file, not the stored <uuid>.stl
            scale=scale,
        )
        if job.file_kind == FileKind.MESH:
            slice_cache_count(hit=prepared.cached)
        return prepared

    result = run(wanted)
    fit = max(1, result.copies_per_plate)
    plate = max(d for d in range(1, fit + 1) if job.quantity % d == 0)
    return result if plate == result.copies_per_plate else run(plate)


def job_accept_prepared(*, job_id: int, prepared: Prepared) -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.SUBMITTED:
            return
        job.estimate_source = EstimateSource(prepared.estimate_source)
        job.seconds_per_copy = prepared.seconds_per_copy
        job.grams_per_copy = prepared.grams_per_copy
        # A G-code needs its reach from the bed's origin; a mesh, its own size.
        job.size_x_mm, job.size_y_mm, job.size_z_mm = prepared.reach_mm or prepared.size_mm
        job.nozzle_mm = prepared.nozzle_mm
        job.engine = prepared.engine[:100]
        job.copies_per_plate = max(1, prepared.copies_per_plate)
        job.layers = prepared.layers
        job.engine_reason = prepared.engine_reason[:300]
        job.prepare_lease_until = None
        if prepared.gcode_path is not None:
            job.gcode.name = _storage_name(prepared.gcode_path)
        if prepared.thumbnail_path is not None:
            job.thumbnail.name = _storage_name(prepared.thumbnail_path)
        # Only now is the job's use known. Over the quota it is rejected, with the amounts: a
        # quote that could never be confirmed would only wait for its owner to cancel it.
        over_quota = quota_overrun(job)
        # A question for its owner (scale it? print the repair?) holds the job quoted, even
        # one that needed no confirmation: nothing prints until they have answered.
        questions = [] if over_quota else questions_for(job, prepared)
        wait = job.confirm_required or bool(questions)
        target = JobStatus.QUOTED if wait else JobStatus.QUEUED
        check_job_transition(job.status, JobStatus.REJECTED if over_quota else target)
        if over_quota:
            job.status = JobStatus.REJECTED
            job.status_reason = over_quota
            job.finished_at = timezone.now()
        else:
            job.status = target
            needs = approval_needed(job)
            if needs:
                job_hold_for_approval(job, needs)
        job.save()
        event_record(
            EventKind.JOB_PREPARED,
            job=job,
            message="; ".join(prepared.notes),
            seconds_per_copy=round(prepared.seconds_per_copy),
            source=prepared.estimate_source,
            engine=prepared.engine,
        )
        if over_quota:
            event_record(EventKind.JOB_REJECTED, job=job, message=over_quota)
            return
        questions_put(questions)
        if job.awaits_approval:
            event_record(EventKind.JOB_HELD, job=job, message=job.approval_reason)
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
        job.prepare_lease_until = None
        job.save(update_fields=["status", "status_reason", "finished_at", "prepare_lease_until"])
        event_record(EventKind.JOB_REJECTED, job=job, message=reason)
