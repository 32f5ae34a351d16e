from __future__ import annotations

from django.db import models


class PromiseChange(models.Model):
    """One change to a job's promised completion, and why (the job page lists them)."""

    job = models.ForeignKey("farm.Job", on_delete=models.CASCADE, related_name="promise_changes")
    at = models.DateTimeField()
    old = models.DateTimeField(null=True, blank=True, help_text="Empty: the first promise.")
    new = models.DateTimeField()
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["job", "at"])]

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.old} -> {self.new} ({self.reason})"
