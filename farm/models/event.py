from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models


class EventKind(StrEnum):
    """Every kind of event the farm writes (the job's page and reports read them back)."""

    JOB_SUBMITTED = "job.submitted"
    JOB_PREPARED = "job.prepared"
    JOB_REJECTED = "job.rejected"
    JOB_CONFIRMED = "job.confirmed"
    JOB_QUEUED = "job.queued"
    JOB_PRINTING = "job.printing"
    JOB_DONE = "job.done"
    JOB_CANCELLED = "job.cancelled"
    RUN_CREATED = "run.created"
    RUN_STARTED = "run.started"
    RUN_PAUSED = "run.paused"
    RUN_RESUMED = "run.resumed"
    RUN_FINISHED = "run.finished"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    RUN_DISPATCH_FAILED = "run.dispatch_failed"
    RUN_IN_DOUBT = "run.in_doubt"
    RUN_CONTACT_BACK = "run.contact_back"
    RUN_INTERRUPTED = "run.interrupted"
    RUN_ACCEPTED = "run.accepted"
    RUN_REPRINT_REQUESTED = "run.reprint_requested"
    RUN_RELEASED = "run.released"
    PRINTER_ADDED = "printer.added"
    PRINTER_STATE = "printer.state"
    PRINTER_BED_CLEARED = "printer.bed_cleared"
    PRINTER_FILAMENT_REQUESTED = "printer.filament_requested"
    PRINTER_FILAMENT_LOADED = "printer.filament_loaded"
    PRINTER_COMMAND_REQUESTED = "printer.command_requested"
    PRINTER_FILAMENT_DECLINED = "printer.filament_declined"
    PRINTER_FILAMENT_DECLINE_LIFTED = "printer.filament_decline_lifted"
    PRINTER_OUT_OF_SERVICE = "printer.out_of_service"
    PRINTER_IN_SERVICE = "printer.in_service"
    JOB_ASKED = "job.asked"  # a question to its owner (farm.models.question)
    JOB_ANSWERED = "job.answered"
    JOB_HELD = "job.held"
    JOB_RELEASED = "job.released"
    JOB_PRIORITY = "job.priority"
    JOB_MOVED = "job.moved"
    SITE_DOWN = "site.down"
    SITE_UP = "site.up"


class Event(models.Model):
    """An append-only log entry: what happened to a job, a run or a printer, and who did it."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=50)
    job = models.ForeignKey(
        "farm.Job", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    run = models.ForeignKey(
        "farm.PrintRun", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    printer = models.ForeignKey(
        "farm.Printer", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("events are append-only")
        super().save(*args, **kwargs)
