"""Dispatch: hand a run's G-code to its printer and record that it started."""

from __future__ import annotations

from pathlib import Path

from farm.models import PrintRun
from farm.models.job import FileKind
from farm.services.preparation import profile_for
from farm.services.printer_control import printer_driver
from farm.services.runs import run_dispatch_failed, run_start
from farm.statuses import RunStatus
from printers.drivers import PermanentDriverError
from slicing.errors import PrepareError
from slicing.prepare import check_gcode_for_printer


def run_dispatch(*, run_id: int) -> None:
    """Start the run on its printer. Safe to repeat: the driver ignores a run it already has.

    A permanent driver error fails the run (and frees the printer); a transient one
    (TransientDriverError) propagates for the caller to retry.
    """
    run = PrintRun.objects.select_related("job", "printer").get(pk=run_id)
    if run.status != RunStatus.DISPATCHING:
        return
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
