"""Maintenance: what must be done to a printer (or to every printer of a model) and when,
what was done, and the holds that keep an overdue printer out of service."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models


class MaintenanceSchedule(models.Model):
    """A recurring task, due every N print hours, every N runs or every N days (whichever
    comes first), for one printer or for every printer of a model."""

    task = models.CharField(max_length=200, help_text="What to do, e.g. Lubricate the Z rods.")
    printer = models.ForeignKey(
        "farm.Printer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_schedules",
        help_text="One printer, or leave empty and name a model.",
    )
    printer_model = models.CharField(
        max_length=100, blank=True, help_text="Every printer of this model, e.g. Prusa MK4."
    )
    every_print_hours = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.1)]
    )
    every_runs = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    every_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    remind_at_percent = models.PositiveSmallIntegerField(
        default=90, help_text="Remind when this share of the interval is used up."
    )
    blocks = models.BooleanField(
        default=True, help_text="Take an overdue printer out of service until this is done."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task"]

    def __str__(self) -> str:
        return f"{self.task} ({self.printer or self.printer_model})"

    def clean(self) -> None:
        errors = {}
        if (self.printer_id is None) == (not self.printer_model):
            errors["printer_model"] = "Name either one printer or a printer model, not both."
        if self.every_print_hours is None and self.every_runs is None and self.every_days is None:
            errors["every_days"] = "Give at least one interval: print hours, runs or days."
        if not 1 <= self.remind_at_percent <= 100:
            errors["remind_at_percent"] = "A share from 1 to 100."
        if errors:
            raise ValidationError(errors)


class MaintenanceLog(models.Model):
    """Work done on a printer: who, when, what (for a schedule, or unplanned)."""

    printer = models.ForeignKey(
        "farm.Printer", on_delete=models.CASCADE, related_name="maintenance_logs"
    )
    schedule = models.ForeignKey(
        MaintenanceSchedule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="logs",
        help_text="Empty for unplanned work (a repair).",
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(db_index=True)
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-done_at", "-id"]
        indexes = [models.Index(fields=["printer", "schedule", "done_at"])]

    def __str__(self) -> str:
        return f"{self.printer_id} {self.done_at:%Y-%m-%d}"


class MaintenanceHold(models.Model):
    """An overdue blocking schedule keeps its printer out of service (Printer.maintenance,
    which the planner and the claim read) until the work is logged."""

    printer = models.ForeignKey(
        "farm.Printer", on_delete=models.CASCADE, related_name="maintenance_holds"
    )
    schedule = models.ForeignKey(MaintenanceSchedule, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=300)
    since = models.DateTimeField(auto_now_add=True)
    # True when the sweep itself put the printer into maintenance: only then does logging the
    # work take it out again (a printer a person took out of service stays out).
    set_maintenance = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["printer", "schedule"], name="one_hold_per_schedule")
        ]

    def __str__(self) -> str:
        return self.reason
