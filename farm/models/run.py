from __future__ import annotations

from django.db import models

from farm.statuses import RunStatus


class PrintRun(models.Model):
    """One attempt at printing one or more copies of a job on one printer."""

    job = models.ForeignKey("farm.Job", on_delete=models.CASCADE, related_name="runs")
    printer = models.ForeignKey("farm.Printer", on_delete=models.PROTECT, related_name="runs")
    copies = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=20, choices=RunStatus.choices(), default=RunStatus.DISPATCHING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)  # printing ended (any outcome)
    cleared_at = models.DateTimeField(null=True, blank=True)  # parts taken off the bed
    failure_reason = models.TextField(blank=True)
    progress = models.FloatField(default=0)  # as last recorded at a transition
    dispatch_attempts = models.PositiveSmallIntegerField(default=0)
    # When the printer stopped answering during this run (the run is then in doubt).
    in_doubt_since = models.DateTimeField(null=True, blank=True)
    # The lease on dispatching (farm.services.leases), held through the retries' waits.
    dispatch_holder = models.CharField(max_length=200, blank=True)
    dispatch_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"run {self.pk} of job {self.job_id} on {self.printer_id}"

    @property
    def job_name(self) -> str:
        """The file name the printer sees: unique per run, so dispatch is idempotent.

        The creation time is in it too: run ids start again in a new database, and a printer
        that still holds a finished `farm-run-1.gcode` of an earlier farm must not make a new
        run 1 look printed already.
        """
        return f"farm-run-{self.pk}-{self.created_at:%Y%m%d%H%M%S}.gcode"

    @property
    def actual_seconds(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None
