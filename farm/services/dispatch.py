"""Dispatch: hand a run's G-code to its printer and record that it started."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.db.models import Q

from farm.models import PrintRun
from farm.models.job import FileKind
from farm.services.leases import LEASE, lease_claim, lease_extend, lease_heartbeat, lease_holder
from farm.services.preparation import profile_for
from farm.services.printer_control import printer_driver
from farm.services.runs import run_dispatch_failed, run_start
from farm.statuses import RunStatus
from printers.drivers import PermanentDriverError
from slicing.errors import PrepareError
from slicing.prepare import check_gcode_for_printer

DISPATCH = "dispatch"  # the lease's field prefix on PrintRun


def run_claim_dispatch(*, run_id: int, holder: str) -> bool:
    """Take the run's dispatch lease (a conditional UPDATE: one live dispatcher at a time)."""
    return lease_claim(
        PrintRun, run_id, prefix=DISPATCH, holder=holder, condition=Q(status=RunStatus.DISPATCHING)
    )


def run_dispatch_hold(*, run_id: int, holder: str, seconds: float) -> None:
    """Keep the lease through a retry's wait, so the sweep does not send a second dispatch."""
    lease_extend(
        PrintRun,
        run_id,
        prefix=DISPATCH,
        holder=holder,
        by=LEASE + datetime.timedelta(seconds=seconds),
    )


def run_dispatch(*, run_id: int, holder: str | None = None) -> None:
    """Start the run on its printer. Safe to repeat: the driver ignores a run it already has.

    The task holds the run's lease (`holder`: its id, the same across retries) while it talks
    to the printer, so a repeated message waits for the live one instead of racing it.
    A permanent driver error fails the run (and frees the printer); a transient one
    (TransientDriverError) propagates for the caller to retry.
    """
    holder = lease_holder(holder)
    if not run_claim_dispatch(run_id=run_id, holder=holder):
        return  # started already, or a live task is dispatching it
    run = PrintRun.objects.select_related("job", "printer").get(pk=run_id)
    with lease_heartbeat(PrintRun, run_id, prefix=DISPATCH, holder=holder):
        _dispatch(run)


def _dispatch(run: PrintRun) -> None:
    run_id = run.pk
    job = run.job
    gcode = Path(job.gcode.path if job.gcode else job.file.path)
    if job.file_kind == FileKind.GCODE:
        # An uploaded G-code was made for some printer: refuse it for this one if it moves off
        # this bed, needs another nozzle or heats for another material.
        printer = run.printer
        profile = profile_for(job, nozzle_mm=printer.nozzle_mm, build_mm=printer.build_volume)
        try:
            check_gcode_for_printer(gcode, profile)
        except PrepareError as exc:
            run_dispatch_failed(run_id=run_id, reason=f"refused for {printer.name}: {exc}")
            return
    try:
        printer_driver(run.printer).start(
            job_name=run.job_name,
            gcode_path=gcode,
            expected_seconds=float(job.seconds_per_copy or 60) * run.copies,
        )
    except PermanentDriverError as exc:
        run_dispatch_failed(run_id=run_id, reason=exc.message)
        return
    run_start(run_id=run_id)
