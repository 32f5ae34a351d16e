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
