"""What the people on the floor told the planner: a filament change they will not make."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class FilamentDecline(models.Model):
    """An operator declined loading `material` (and `colour`, "" = any colour) on a printer,
    until `until`: the planner gives that printer no work needing it meanwhile
    (`farm.services.work_lists.filament_declines_active`)."""

    printer = models.ForeignKey(
        "farm.Printer", on_delete=models.CASCADE, related_name="filament_declines"
    )
    material = models.ForeignKey("farm.Material", on_delete=models.CASCADE, related_name="+")
    colour = models.CharField(max_length=50, blank=True)
    job = models.ForeignKey(
        "farm.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The job the request was for, when known.",
    )
    reason = models.CharField(max_length=200, blank=True)
    declined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    declined_at = models.DateTimeField(auto_now_add=True)
    until = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-declined_at"]

    def __str__(self) -> str:
        return f"{self.printer_id}: no {self.material_id} {self.colour}".strip()
