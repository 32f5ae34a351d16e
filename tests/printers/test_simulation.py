"""The simulated printer's physics, stepped through a print with a clock we hold."""

from __future__ import annotations

import datetime

import pytest

from printers.simulation import SimPrint, sim_status
from printers.states import DeviceState

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def sim(**changes: object) -> SimPrint:
    values: dict[str, object] = {
        "online": True,
        "job_name": "farm-run-1.gcode",
        "started_at": T0,
        "duration_s": 100.0,
        "speedup": 60.0,
        "paused_at": None,
        "paused_total_s": 0.0,
        "cancelled": False,
        "fail_at": None,
        "error": "",
    }
    values.update(changes)
    return SimPrint(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("device", "now", "state", "progress"),
    [
        (sim(started_at=None, job_name=""), 0, DeviceState.READY, None),
        (sim(), 25, DeviceState.PRINTING, 0.25),
        (sim(), 100, DeviceState.FINISHED, 1.0),
        (sim(paused_at=at(50)), 90, DeviceState.PAUSED, 0.5),
        (sim(paused_total_s=40), 90, DeviceState.PRINTING, 0.5),
        (sim(fail_at=0.3), 29, DeviceState.PRINTING, 0.29),
        (sim(fail_at=0.3), 31, DeviceState.ERROR, 0.3),
        (sim(online=False), 50, DeviceState.OFFLINE, None),
        (sim(cancelled=True), 50, DeviceState.READY, None),
    ],
)
def test_a_simulated_print_moves_with_the_clock(
    device: SimPrint, now: float, state: DeviceState, progress: float | None
) -> None:
    status = sim_status(device, at(now))
    assert status.state is state
    if progress is None:
        assert status.progress is None
    else:
        assert status.progress == pytest.approx(progress)


def test_time_left_is_wall_clock_time() -> None:
    status = sim_status(sim(), at(40))
    assert status.seconds_left == pytest.approx(60.0)


def test_a_failure_says_why() -> None:
    status = sim_status(sim(fail_at=0.0, error="nozzle clog"), at(1))
    assert status.state is DeviceState.ERROR and status.message == "nozzle clog"
