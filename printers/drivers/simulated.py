"""A simulated printer behind the same interface as the real drivers.

Settings (the printer's connection settings): `speedup` (default FARM_SIM_SPEEDUP; 60 makes a
90-minute print take 90 s), `fail_probability` (chance that a print fails part-way) and
`fail_at` (force the next print to fail at this fraction). `go_offline()` and `come_online()`
are the other fault knobs (the admin has actions for them).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from printers.drivers.base import (
    Capabilities,
    DeviceStatus,
    Driver,
    PermanentDriverError,
    TransientDriverError,
    register,
)
from printers.models import SimulatedDevice
from printers.simulation import SimPrint, sim_status
from printers.states import ACTIVE_STATES, DeviceState


@register
class SimulatedDriver(Driver):
    kind = "simulated"

    def __init__(self, *, device_id: str, settings: dict[str, Any]) -> None:
        super().__init__(device_id=device_id, settings=settings)
        speedup = float(settings.get("speedup") or django_settings.FARM_SIM_SPEEDUP)
        if speedup <= 0:
            raise PermanentDriverError("simulated printer: speedup must be positive")
        self.speedup = speedup

    def _device(self, *, lock: bool = False) -> SimulatedDevice:
        rows = SimulatedDevice.objects.select_for_update() if lock else SimulatedDevice.objects
        device, _ = rows.get_or_create(device_id=self.device_id)
        return device

    def _snapshot(self, d: SimulatedDevice) -> SimPrint:
        return SimPrint(
            online=d.online,
            job_name=d.job_name,
            started_at=d.started_at,
            duration_s=d.duration_s,
            speedup=d.speedup,
            paused_at=d.paused_at,
            paused_total_s=d.paused_total_s,
            cancelled=d.cancelled,
            fail_at=d.fail_at,
            error=d.error,
        )

    def _status_of(self, d: SimulatedDevice) -> DeviceStatus:
        return sim_status(self._snapshot(d), timezone.now())

    def status(self) -> DeviceStatus:
        return self._status_of(self._device())

    def start(self, *, job_name: str, gcode_path: Path, expected_seconds: float) -> None:
        with transaction.atomic():
            d = self._device(lock=True)
            current = self._status_of(d)
            if current.state is DeviceState.OFFLINE:
                raise TransientDriverError("simulated printer is offline")
            if d.job_name == job_name and current.state in ACTIVE_STATES | {DeviceState.FINISHED}:
                return  # this run was already started: a repeated dispatch does nothing
            if current.state in ACTIVE_STATES:
                raise TransientDriverError(f"printer is busy printing {d.job_name}")
            if current.state is DeviceState.ERROR:
                raise PermanentDriverError(f"printer is in error: {current.message}")
            if not gcode_path.is_file():
                raise PermanentDriverError(f"no such G-code file: {gcode_path.name}")
            fail_at = self.settings.get("fail_at")
            if fail_at is None and random.random() < float(
                self.settings.get("fail_probability", 0)
            ):
                fail_at = random.uniform(0.05, 0.95)
            d.job_name = job_name
            d.started_at = timezone.now()
            d.duration_s = max(expected_seconds, 1.0) / self.speedup
            d.speedup = self.speedup
            d.paused_at = None
            d.paused_total_s = 0
            d.cancelled = False
            d.fail_at = float(fail_at) if fail_at is not None else None
            d.error = ""
            d.save()

    def pause(self) -> None:
        with transaction.atomic():
            d = self._device(lock=True)
            if self._status_of(d).state is DeviceState.PRINTING:
                d.paused_at = timezone.now()
                d.save(update_fields=["paused_at", "updated_at"])

    def resume(self) -> None:
        with transaction.atomic():
            d = self._device(lock=True)
            if d.paused_at is not None:
                d.paused_total_s += (timezone.now() - d.paused_at).total_seconds()
                d.paused_at = None
                d.save(update_fields=["paused_at", "paused_total_s", "updated_at"])

    def cancel(self) -> None:
        SimulatedDevice.objects.filter(device_id=self.device_id).update(cancelled=True)

    def clear_error(self) -> None:
        """An operator fixed the fault: the device is ready again."""
        SimulatedDevice.objects.filter(device_id=self.device_id).update(
            started_at=None, error="", fail_at=None, paused_at=None
        )

    def go_offline(self) -> None:
        self._device()
        SimulatedDevice.objects.filter(device_id=self.device_id).update(online=False)

    def come_online(self) -> None:
        self._device()
        SimulatedDevice.objects.filter(device_id=self.device_id).update(online=True)

    def capabilities(self) -> Capabilities:
        return Capabilities(firmware="simulated", extras={"speedup": self.speedup})
