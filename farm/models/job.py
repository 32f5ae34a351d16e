from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from farm.statuses import JOB_OPEN, JobStatus


class FileKind(models.TextChoices):
    MESH = "mesh", "Mesh"
    GCODE = "gcode", "G-code"


class EstimateSource(models.TextChoices):
    NONE = "", "No estimate yet"
    GCODE = "gcode", "From the G-code"
    SLICED = "sliced", "From the sliced G-code"


class Supports(models.TextChoices):
    """What a job asks of supports (slicing.supports: PrintProfile.supports)."""

    AUTO = "auto", "Where the part needs them (the farm decides)"
    OFF = "off", "None"
    BED = "bed", "Standing on the bed only"
    EVERYWHERE = "everywhere", "Wherever needed, on the part too"


class Priority(models.IntegerChoices):
    LOW = -1, "Low"
    NORMAL = 0, "Normal"
    HIGH = 1, "High"
    RUSH = 2, "Rush"


def upload_path(job: Job, filename: str) -> str:
    # The stored name never comes from the user: only the (checked) extension does.
    suffix = filename.rsplit(".", 1)[-1].lower()
    return f"uploads/{job.uid}.{suffix}"


class Job(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs"
    )
    name = models.CharField(max_length=200, help_text="The part's name (the file's name).")
    file = models.FileField(upload_to=upload_path, max_length=300)
    file_kind = models.CharField(max_length=10, choices=FileKind.choices)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_bytes = models.BigIntegerField(default=0)
    gcode = models.FileField(max_length=300, blank=True, help_text="What the printers receive.")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    material = models.ForeignKey("farm.Material", on_delete=models.PROTECT, related_name="jobs")
    colour = models.CharField(max_length=50, blank=True)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    supports = models.CharField(
        max_length=12,
        choices=Supports.choices,
        default=Supports.AUTO,
        help_text="Supports under overhangs; left to the farm, they are added when needed.",
    )
    site = models.ForeignKey(
        "farm.Site",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        help_text="Print only at this site.",
    )
    needed_at = models.ForeignKey(
        "farm.Site",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where the part is needed: printed there when that costs no more than a day.",
    )

    status = models.CharField(
        max_length=20, choices=JobStatus.choices(), default=JobStatus.SUBMITTED
    )
    status_reason = models.TextField(blank=True, help_text="Why it was rejected, for example.")
    confirm_required = models.BooleanField(
        default=False, help_text="Wait for the owner to confirm the quoted completion time."
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Per copy, from the mesh or the G-code (see estimate_source).
    estimate_source = models.CharField(
        max_length=20, choices=EstimateSource.choices, default=EstimateSource.NONE, blank=True
    )
    seconds_per_copy = models.FloatField(null=True, blank=True)
    grams_per_copy = models.FloatField(null=True, blank=True)
    size_x_mm = models.FloatField(null=True, blank=True)
    size_y_mm = models.FloatField(null=True, blank=True)
    size_z_mm = models.FloatField(null=True, blank=True)
    nozzle_mm = models.FloatField(null=True, blank=True, help_text="Set when G-code fixes it.")
    engine = models.CharField(max_length=100, blank=True, help_text="What made the G-code.")
    layers = models.PositiveIntegerField(default=0, help_text="Layers in the G-code.")
    copies_per_plate = models.PositiveSmallIntegerField(
        default=1, help_text="Copies printed together in one run (one G-code)."
    )
    engine_reason = models.CharField(max_length=300, blank=True)
    thumbnail = models.FileField(max_length=300, blank=True)
    # From the latest scheduling pass.
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    plan_note = models.CharField(max_length=200, blank=True)
    # The completion promised to the owner (farm.services.promises): the quote's, with its
    # margin, and once confirmed held through replans unless the farm changes.
    promised_end = models.DateTimeField(null=True, blank=True)
    # When the pass last quoted it: quotes go to the least recently quoted first, so a
    # queue of more quotes than a pass makes (MAX_QUOTES_PER_PASS) is served in turn.
    quoted_at = models.DateTimeField(null=True, blank=True)
    promise_confidence = models.FloatField(
        null=True, blank=True, help_text="The chance, from the farm's history, it is kept."
    )
    promise_runs = models.PositiveIntegerField(
        default=0, help_text="Finished runs of the farm the confidence rests on."
    )
    # A change of the farm that may move the promise (a run failed, a printer or site went
    # down), applied and cleared by the next scheduling pass once the plan reflects it.
    promise_disruption = models.CharField(max_length=200, blank=True)
    promise_disrupted_at = models.DateTimeField(null=True, blank=True)
    # An operator's hold: the planner leaves a held job out until it is released.
    held = models.BooleanField(default=False, help_text="Held by an operator: not planned.")
    # Set when a site's approval rule caught the job (farm.services.approvals): it is held
    # until an operator decides; the note goes back to its owner.
    approval_reason = models.CharField(
        max_length=300, blank=True, help_text="Why it waits for approval; empty: it need not."
    )
    approval_decided_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who approved or refused it.",
    )
    approval_note = models.TextField(blank=True, max_length=2000)
    # The lease on preparing the file (farm.services.leases): the task holding it, and until
    # when; renewed by a heartbeat while it slices, so a live slice is never started twice.
    prepare_holder = models.CharField(max_length=200, blank=True)
    prepare_lease_until = models.DateTimeField(null=True, blank=True)
    prepare_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Times a worker started preparing the file."
    )

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["status", "priority"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="job_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} x{self.quantity}"

    @property
    def is_open(self) -> bool:
        return self.status in JOB_OPEN

    @property
    def is_submitted(self) -> bool:
        return self.status == JobStatus.SUBMITTED

    @property
    def is_quoted(self) -> bool:
        return self.status == JobStatus.QUOTED

    @property
    def awaits_approval(self) -> bool:
        return bool(self.approval_reason) and self.approval_decided_at is None

    @property
    def is_done(self) -> bool:
        return self.status == JobStatus.DONE

    @property
    def size(self) -> tuple[float, float, float] | None:
        if self.size_x_mm is None or self.size_y_mm is None or self.size_z_mm is None:
            return None
        return (self.size_x_mm, self.size_y_mm, self.size_z_mm)
