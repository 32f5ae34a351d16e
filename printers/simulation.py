"""The simulated printer's physics as a pure function of time: where a print is at `now`.

Kept apart from the driver so tests can step a clock through a whole print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from printers.drivers.base import DeviceStatus
from printers.states import DeviceState


@dataclass(frozen=True)
class SimPrint:
    """The state a simulated device keeps (one row of printers.SimulatedDevice)."""

    online: bool
    job_name: str
    started_at: datetime | None
    duration_s: float  # wall-clock seconds the print takes at this device's speed-up
    speedup: float
    paused_at: datetime | None
    paused_total_s: float
    cancelled: bool
    fail_at: float | None  # fraction of the print at which it fails, if it will
    error: str


def sim_status(p: SimPrint, now: datetime) -> DeviceStatus:
    if not p.online:
        return DeviceStatus(DeviceState.OFFLINE, job_name=p.job_name, message="no response")
    if p.error and p.started_at is None:
        return DeviceStatus(DeviceState.ERROR, job_name=p.job_name, message=p.error)
    if p.started_at is None or p.cancelled:
        return DeviceStatus(DeviceState.READY, job_name=p.job_name, temperatures=_idle_temps())
    until = p.paused_at or now
    elapsed = max(0.0, (until - p.started_at).total_seconds() - p.paused_total_s)
    duration = max(p.duration_s, 1e-6)
    if p.fail_at is not None and elapsed >= p.fail_at * duration:
        return DeviceStatus(
            DeviceState.ERROR,
            job_name=p.job_name,
            progress=p.fail_at,
            message=p.error or "simulated failure: filament runout sensor tripped",
        )
    if elapsed >= duration:
        return DeviceStatus(
            DeviceState.FINISHED,
            job_name=p.job_name,
            progress=1.0,
            seconds_left=0.0,
            temperatures=_idle_temps(),
        )
    left = duration - elapsed  # wall-clock seconds, like every time the farm shows
    state = DeviceState.PAUSED if p.paused_at else DeviceState.PRINTING
    return DeviceStatus(
        state,
        job_name=p.job_name,
        progress=elapsed / duration,
        seconds_left=left,
        temperatures={"tool0": 215.0, "bed": 60.0},
    )


def _idle_temps() -> dict[str, float]:
    return {"tool0": 24.0, "bed": 23.0}
