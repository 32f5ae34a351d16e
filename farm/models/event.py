from __future__ import annotations

from django.conf import settings
from django.db import models


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
