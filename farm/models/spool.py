"""Filament inventory: spools, which printer holds each, what each run took, and the
low-stock thresholds per material and colour."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


class Spool(models.Model):
    material = models.ForeignKey("farm.Material", on_delete=models.PROTECT, related_name="spools")
    colour = models.CharField(max_length=50, blank=True)
    vendor = models.CharField(max_length=100, blank=True)
    initial_g = models.FloatField(default=1000, validators=[MinValueValidator(0)])
    remaining_g = models.FloatField(default=1000)  # may go below 0: the estimate was short
    location = models.CharField(max_length=100, blank=True, help_text="Shelf or box, e.g. B-3.")
    printer = models.OneToOneField(
        "farm.Printer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="spool",
        help_text="The printer it is loaded on.",
    )
    archived = models.BooleanField(default=False, help_text="Used up or thrown away.")
    spoolman_id = models.PositiveIntegerField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["material__name", "colour", "remaining_g"]
        indexes = [models.Index(fields=["material", "colour"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.material} {self.colour} {self.remaining_g:.0f} g".strip()


class SpoolUse(models.Model):
    """What one run took from one spool (one row per run: a run is counted once)."""

    spool = models.ForeignKey(Spool, on_delete=models.CASCADE, related_name="uses")
    run = models.OneToOneField("farm.PrintRun", on_delete=models.CASCADE, related_name="+")
    grams = models.FloatField()
    at = models.DateTimeField(auto_now_add=True)
    # When this use was reported to Spoolman (FARM_SPOOLMAN_URL); None: not yet (or no Spoolman).
    spoolman_pushed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.grams:.1f} g from spool {self.spool_id}"


class StockThreshold(models.Model):
    """Warn when spools of a material (and colour; empty: all colours) hold less than this."""

    material = models.ForeignKey("farm.Material", on_delete=models.CASCADE, related_name="+")
    colour = models.CharField(max_length=50, blank=True, help_text="Empty: all colours.")
    min_g = models.FloatField(validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["material__name", "colour"]
        constraints = [
            models.UniqueConstraint(fields=["material", "colour"], name="one_threshold_per_colour")
        ]

    def __str__(self) -> str:
        return f"{self.material} {self.colour or 'any colour'} < {self.min_g:.0f} g"
