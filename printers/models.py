"""The state a simulated printer keeps, shared by every process that talks to it.

A real printer keeps its state in its own firmware; a simulated one keeps it here, so the
dispatch worker that starts a print and the fleet link that watches it see the same device.
"""

from __future__ import annotations

from django.db import models


class SimulatedDevice(models.Model):
    device_id = models.CharField(max_length=100, unique=True)
    online = models.BooleanField(default=True)
    job_name = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(default=0)
    speedup = models.FloatField(default=1)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_total_s = models.FloatField(default=0)
    cancelled = models.BooleanField(default=False)
    fail_at = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"simulated device {self.device_id}"


class SerialCommand(models.Model):
    """A command for the serial host (the process that holds the USB ports).

    The Celery dispatch task lives for seconds; a print over USB lives for hours in the serial
    host. So the serial driver does not stream anything itself: it writes a row here, and the
    host that serves `device_id` claims it (a conditional UPDATE of `taken_at`) and acts on it.
    One start per (device, run) makes a repeated dispatch of the same run a no-op.
    """

    class Kind(models.TextChoices):
        START = "start", "Start"
        PAUSE = "pause", "Pause"
        RESUME = "resume", "Resume"
        CANCEL = "cancel", "Cancel"
        CLEAR_ERROR = "clear_error", "Clear error"
        EMERGENCY_STOP = "emergency_stop", "Emergency stop"

    device_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    job_name = models.CharField(max_length=200, blank=True)
    gcode_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=300, blank=True)  # "" when done, else why not

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["device_id", "taken_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["device_id", "job_name"],
                condition=models.Q(kind="start"),
                name="serial_one_start_per_run",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.job_name} on {self.device_id}"
