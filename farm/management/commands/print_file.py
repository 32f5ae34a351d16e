"""Print one G-code file on one printer, through the farm's own dispatch path.

    manage.py print_file --printer mk4-07 part.gcode [--wait] [--json]

The file becomes a job (submitted, checked and estimated like any upload), the job gets a run
on this printer (the same claim the scheduler makes), and the run is dispatched by the same
service the Celery task calls. With --wait it follows the run to its end, recording what it
sees through the same service as the fleet link, and prints the outcome, the duration and,
for serial printers, the lines sent, resends and errors.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from farm.models import Material, Printer, PrintRun
from farm.services.dispatch import run_dispatch
from farm.services.observation import printer_observe
from farm.services.preparation import job_prepare
from farm.services.printer_control import printer_driver
from farm.services.runs import PrinterBusy, run_create, run_dispatch_failed
from farm.services.submission import job_submit
from farm.statuses import RUN_ACTIVE, JobStatus
from farm.tasks import DISPATCH_RETRIES
from printers.drivers.base import TransientDriverError
from printers.drivers.serial import SerialDriver


class Command(BaseCommand):
    help = "Send a G-code file to one printer through the farm's dispatch path (a run is recorded)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--printer", required=True, help="the printer's name")
        parser.add_argument("--user", help="who submits it (default: the first superuser)")
        parser.add_argument("--material", help="default: the material loaded in the printer")
        parser.add_argument("--wait", action="store_true", help="follow the run to its end")
        parser.add_argument("--timeout", type=float, default=0, help="give up waiting after s")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        printer = Printer.objects.filter(name=o["printer"]).first()
        if printer is None:
            raise CommandError(f"no printer named {o['printer']!r}")
        path: Path = o["path"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        self._check_free(printer)
        run = self._create_run(printer, path, o)
        dispatch_note = self._dispatch(run, retry=o["wait"])
        run.refresh_from_db()
        if o["wait"]:
            run = self._follow(run, o["timeout"])
        self._report(run, dispatch_note, o["json"])

    def _dispatch(self, run: PrintRun, *, retry: bool) -> str:
        """Dispatch here, not through a worker, so that a person testing one printer sees it
        start (or why not) with no worker running. With --wait a transient error is retried
        as the dispatch task would; without, the task queued with the run retries it."""
        attempts = DISPATCH_RETRIES + 1 if retry else 1
        for attempt in range(attempts):
            try:
                run_dispatch(run_id=run.pk)
                return ""
            except TransientDriverError as exc:
                if attempt + 1 == attempts:
                    if retry:
                        run_dispatch_failed(
                            run_id=run.pk, reason=f"gave up after retries: {exc.message}"
                        )
                        return f"not started: {exc.message}"
                    return f"not started yet: {exc.message}; a dispatch worker will retry"
                self.stderr.write(f"not started yet: {exc.message}; retrying")
                time.sleep(2**attempt)
        return ""

    def _check_free(self, printer: Printer) -> None:
        """Ask the printer how it is now (the database may not know yet: the fleet link
        writes transitions as it sees them), and say plainly why it cannot print."""
        printer_observe(printer=printer, status=printer_driver(printer).status())
        printer.refresh_from_db()
        if printer.available:
            return
        if printer.current_run_id is not None:
            why = f"it is busy with run {printer.current_run_id}"
        elif not printer.bed_clear:
            why = "parts wait on its bed (confirm the bed is clear first)"
        elif not printer.enabled or printer.maintenance:
            why = "it is disabled or in maintenance"
        else:
            why = f"it is {printer.state}" + (
                f": {printer.state_message}" if printer.state_message else ""
            )
        raise CommandError(f"{printer.name} cannot take a print now: {why}")

    def _create_run(self, printer: Printer, path: Path, o: dict[str, Any]) -> PrintRun:
        users = get_user_model().objects
        user = users.filter(username=o["user"]).first() if o["user"] else None
        user = user or users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("no user to submit as: pass --user or create a superuser")
        material = printer.material
        if o["material"]:
            material = Material.objects.filter(name=o["material"]).first()
        if material is None:
            raise CommandError("no material: pass --material NAME or set the printer's material")
        try:
            # One transaction: the scheduling pass that preparing a job enqueues runs after
            # commit, when this job's copy already has its run here, not on another printer.
            with transaction.atomic(), path.open("rb") as handle:
                job = job_submit(
                    owner=user,
                    upload=File(handle, name=path.name),
                    material=material,
                    quantity=1,
                    site=printer.site,
                    notes=f"print_file on {printer.name}",
                )
                job_prepare(job_id=job.pk)
                job.refresh_from_db()
                if job.status != JobStatus.QUEUED:
                    raise CommandError(f"the file was refused: {job.status_reason}")
                now = timezone.now()
                seconds = float(job.seconds_per_copy or 60)
                return run_create(
                    job=job,
                    printer=printer,
                    copies=1,
                    planned_start=now,
                    planned_end=now + datetime.timedelta(seconds=seconds),
                    actor=user,
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except PrinterBusy:
            raise CommandError(
                f"{printer.name} is busy, disabled, or its bed is not clear"
            ) from None

    def _follow(self, run: PrintRun, timeout: float) -> PrintRun:
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while run.status in RUN_ACTIVE:
            if deadline is not None and time.monotonic() > deadline:
                break
            printer = Printer.objects.select_related("current_run").get(pk=run.printer_id)
            printer_observe(printer=printer, status=printer_driver(printer).status())
            run.refresh_from_db()
            if run.status in RUN_ACTIVE:
                time.sleep(0.5)
        return run

    def _report(self, run: PrintRun, note: str, as_json: bool) -> None:
        printer = Printer.objects.get(pk=run.printer_id)
        stats: dict[str, Any] = {}
        driver = printer_driver(printer)
        # Only the serial host keeps books of lines sent and resends.
        book = driver.job_report() if isinstance(driver, SerialDriver) else None
        if book is not None and book.job_name == run.job_name:
            stats = {
                "lines_total": book.lines_total,
                "lines_sent": book.lines_sent,
                "lines_acked": book.lines_acked,
                "resends": book.resends,
                "errors": book.errors,
            }
        result = {
            "run": run.pk,
            "job": run.job_id,
            "printer": printer.name,
            "file": run.job_name,
            "status": run.status,
            "failure_reason": run.failure_reason,
            "duration_s": run.actual_seconds,
            "note": note,
            **stats,
        }
        if as_json:
            self.stdout.write(json.dumps(result, indent=2))
            return
        line = f"run {run.pk} on {printer.name}: {run.status}"
        if run.actual_seconds is not None:
            line += f" after {run.actual_seconds:.0f} s"
        if run.failure_reason:
            line += f" ({run.failure_reason})"
        if note:
            line += f"; {note}"
        if stats:
            line += (
                f"; {stats['lines_sent']} lines sent, {stats['resends']} resends, "
                f"{stats['errors']} errors"
            )
        self.stdout.write(line)
