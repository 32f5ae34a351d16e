from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


class Material(models.Model):
    """A filament type, e.g. PLA or PETG."""

    name = models.CharField(max_length=50, unique=True)
    density_g_cm3 = models.FloatField(default=1.24, validators=[MinValueValidator(0.1)])
    nozzle_temp_c = models.PositiveSmallIntegerField(default=210)
    bed_temp_c = models.PositiveSmallIntegerField(default=60)
    cost_per_kg = models.DecimalField(max_digits=8, decimal_places=2, default=25)
    filament_diameter_mm = models.FloatField(default=1.75)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
