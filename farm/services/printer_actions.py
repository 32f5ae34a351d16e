"""Acting on many printers at once: commands, service, and one file sent to each of them.

Each goes through the same path as one printer's action (`printer_command_request`, events,
the planner woken once), so a bulk action on 200 printers is 200 recorded decisions, not a
side door.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from farm.models import Event, Job, Printer
from farm.models.event import EventKind
from farm.models.printer import free_to_start
from farm.scheduling.types import fits
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.fleet_feed import fleet_changes_publish
from farm.services.printer_control import OPERATOR_COMMANDS, printer_command_request
from farm.services.promise_disruptions import promises_disrupt_printers
from farm.services.runs import RunRequest, copies_held, runs_create
from farm.statuses import RUN_ACTIVE, JobStatus
from printers.commands import PrinterCommand

MAX_BULK = 2000  # printers or jobs in one request: a farm's row or model, not the whole farm


@dataclass
class BulkOutcome:
    """What a bulk action did: the ids it acted on, and why the others were left."""

    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)

    def summary(self, verb: str) -> str:
        text = f"{verb}: {len(self.done)}"
        if self.skipped:
            reasons = sorted(set(self.skipped.values()))
            text += f"; {len(self.skipped)} left ({'; '.join(reasons[:3])})"
        return text


def bulk_ids(ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise ValidationError("Select at least one.")
    if len(ids) > MAX_BULK:
        raise ValidationError(f"At most {MAX_BULK} at once.")
    return ids


def printers_command(
    *, printer_ids: Sequence[int], command: PrinterCommand, actor: User
) -> BulkOutcome:
    """Pause, resume, cancel or connect each printer (recorded, then sent by workers)."""
    if command not in OPERATOR_COMMANDS:
        raise ValidationError(f"{command} is not a command an operator sends.")
    outcome = BulkOutcome()
    printers = Printer.objects.select_related("current_run").filter(pk__in=bulk_ids(printer_ids))
    with transaction.atomic():
        for printer in printers:
            run = printer.current_run
            printing = run is not None and run.status in RUN_ACTIVE
            if command in (PrinterCommand.PAUSE, PrinterCommand.CANCEL) and not printing:
                outcome.skipped[printer.pk] = "not printing"
                continue
            printer_command_request(printer=printer, command=command, actor=actor)
            outcome.done.append(printer.pk)
    fleet_changes_publish(outcome.done)
    return outcome


def printers_set_service(
    *, printer_ids: Sequence[int], in_service: bool, actor: User, reason: str = ""
) -> BulkOutcome:
    """Take printers out of service (maintenance: the planner gives them no new work; a
    print under way goes on) or back in service. One UPDATE, one event per printer changed."""
    ids = bulk_ids(printer_ids)
    outcome = BulkOutcome()
    with transaction.atomic():
        rows = Printer.objects.select_for_update().filter(pk__in=ids, maintenance=in_service)
        changing = list(rows.values_list("pk", "name"))
        Printer.objects.filter(pk__in=[pk for pk, _ in changing]).update(maintenance=not in_service)
        kind = EventKind.PRINTER_IN_SERVICE if in_service else EventKind.PRINTER_OUT_OF_SERVICE
        words = "back in service" if in_service else "out of service"
        Event.objects.bulk_create(
            Event(
                kind=kind,
                printer_id=pk,
                actor=actor,
                message=f"{words}: {reason}" if reason else words,
            )
            for pk, _ in changing
        )
        outcome.done = [pk for pk, _ in changing]
        if not in_service:
            promises_disrupt_printers(
                reasons={pk: f"{name} out of service" for pk, name in changing}
            )
        for pk in set(ids) - set(outcome.done):
            outcome.skipped[pk] = f"already {words}"
        if outcome.done:
            enqueue_schedule_pass()
    fleet_changes_publish(outcome.done)
    return outcome


def job_send_to_printers(*, job: Job, printer_ids: Sequence[int], actor: User) -> BulkOutcome:
    """Print one job's file now on each chosen printer (one plate each): the job gets the
    copies it needs for them, started through the same claim as the planner's runs. Printers
    that are busy, hold another material or colour, or cannot fit the part are left, and the
    copies they would have printed are not added."""
    ids = bulk_ids(printer_ids)
    outcome = BulkOutcome()
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("material").get(pk=job.pk)
        if job.status not in (JobStatus.QUEUED, JobStatus.PRINTING) or not job.gcode:
            raise ValidationError(
                f"Job #{job.pk} is {job.get_status_display().lower()}: only a queued or "
                "printing job with its G-code ready can be sent to printers."
            )
        free = set(Printer.objects.filter(free_to_start(), pk__in=ids).values_list("pk", flat=True))
        chosen: list[Printer] = []
        for printer in Printer.objects.filter(pk__in=ids).order_by("pk"):
            why = _why_not(job, printer, free=printer.pk in free)
            if why:
                outcome.skipped[printer.pk] = why
            else:
                chosen.append(printer)
        if not chosen:
            return outcome
        plate = max(1, job.copies_per_plate)
        waiting = job.quantity - copies_held(job.runs.all()).get(job.pk, 0)
        added = max(0, plate * len(chosen) - waiting)
        Job.objects.filter(pk=job.pk).update(quantity=job.quantity + added)
        now = timezone.now()
        seconds = float(job.seconds_per_copy or 0) * plate
        created = runs_create(
            [
                RunRequest(job.pk, p, plate, now, now + datetime.timedelta(seconds=seconds))
                for p in chosen
            ],
            actor=actor,
        )
        started = {run.printer_id for run in created.runs}
        for p in chosen:
            if p.pk not in started:
                outcome.skipped[p.pk] = "taken meanwhile"
        unused = min(added, plate * (len(chosen) - len(started)))
        if unused:  # copies added for printers that were taken meanwhile: not printed
            Job.objects.filter(pk=job.pk).update(quantity=job.quantity + added - unused)
        outcome.done = sorted(started)
    fleet_changes_publish(outcome.done)
    return outcome


def _why_not(job: Job, printer: Printer, *, free: bool) -> str:
    if not free:
        return "not free"
    if job.site_id is not None and printer.site_id != job.site_id:
        return "another site"
    if printer.material_id != job.material_id or (
        job.colour and printer.colour.lower() != job.colour.lower()
    ):
        return f"does not hold {job.material} {job.colour}".strip()
    if job.nozzle_mm is not None and abs(printer.nozzle_mm - job.nozzle_mm) > 1e-6:
        return f"needs a {job.nozzle_mm:g} mm nozzle"
    size = job.size
    # G-code is fixed as it was sliced: no turning the part on the bed.
    if size is not None and not fits(size, printer.build_volume, rotatable=False):
        return "too small for the part"
    return ""
