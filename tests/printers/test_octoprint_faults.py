"""One OctoPrint's bad answer stays that printer's problem, with a reason a person can act on.

HTML from a captive portal, garbage, JSON of another service, a 500 and a slow answer each
become that printer's OFFLINE status; a fleet-link pass still observes every other printer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from printers.drivers.base import DeviceStatus, Driver, register
from printers.drivers.octoprint import OctoPrintDriver, connect_delay_s
from printers.fleetlink import FleetLink, Observation, Target
from printers.octoprint_emulator.server import EmulatorServer
from printers.states import DeviceState
from tests.printers.bad_http import SLOW_S, bad_server
from tests.printers.octoprint_server import OctoPrintServer

REASONS = {
    "html": "unreachable: answered with an HTML page, not OctoPrint's API",
    "garbage": "unreachable: answered with something that is not JSON, not OctoPrint's API",
    "other-json": "unreachable: answered with JSON that is not OctoPrint's API",
    "error-500": "unreachable: OctoPrint failed to read the job (500)",
    "slow": "unreachable: no answer within 1 s",
}


def octoprint_at(url: str, key: str = "K" * 32) -> OctoPrintDriver:
    return OctoPrintDriver(device_id="p", settings={"url": url, "api_key": key, "timeout_s": 1})


@pytest.mark.parametrize("mode", sorted(REASONS))
def test_a_bad_answer_is_that_printers_offline_reason(mode: str) -> None:
    with bad_server(mode) as url:
        began = time.monotonic()
        status = octoprint_at(url).status()
    assert status.state is DeviceState.OFFLINE
    assert status.message == f"{REASONS[mode]} ({url})"
    assert time.monotonic() - began < SLOW_S  # a slow server costs the timeout, no more


@register
class _BrokenDriver(Driver):
    """A driver with a bug: its status raises something that is no DriverError."""

    kind = "broken-for-tests"

    def status(self) -> DeviceStatus:
        raise KeyError("state")

    def start(self, *, job_name: str, gcode_path: Path, expected_seconds: float) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError


@pytest.fixture
def emulated() -> Iterator[EmulatorServer]:
    server = EmulatorServer(("127.0.0.1", 0), printers=1, api_key="EMULATED-KEY", connect_seconds=0)
    yield server.start()
    server.stop()


def _pass_over_a_bad_fleet(good: Target) -> dict[int, DeviceStatus]:
    seen: dict[int, DeviceStatus] = {}
    with bad_server("html") as html, bad_server("slow") as slow, bad_server("garbage") as junk:
        targets = [
            Target(1, "octoprint", "html", {"url": html, "api_key": "K", "timeout_s": 1}),
            Target(2, "octoprint", "slow", {"url": slow, "api_key": "K", "timeout_s": 1}),
            Target(3, "octoprint", "junk", {"url": junk, "api_key": "K", "timeout_s": 1}),
            Target(4, "broken-for-tests", "bug"),
            good,
        ]

        def record(observations: Sequence[Observation]) -> None:
            seen.update({o.target.key: o.status for o in observations})

        link = FleetLink(targets=lambda: targets, record=record)
        deadline = time.monotonic() + 30
        # The good OctoPrint may need a pass or two to connect to its printer.
        idle = (DeviceState.READY, DeviceState.FINISHED)  # connected, not printing
        while seen.get(good.key) is None or seen[good.key].state not in idle:
            assert time.monotonic() < deadline, f"the good printer never got ready: {seen}"
            seen.clear()
            assert link.run_once() == 5
        link.close()
    assert seen[1].message == f"{REASONS['html']} ({html})"
    assert seen[2].message == f"{REASONS['slow']} ({slow})"
    assert seen[3].message.startswith("unreachable: answered with something that is not JSON")
    assert seen[4] == DeviceStatus(DeviceState.OFFLINE, message="cannot poll it: KeyError: 'state'")
    return seen


def test_a_pass_over_bad_servers_still_observes_the_good_emulated_printer(
    emulated: EmulatorServer,
) -> None:
    good = Target(9, "octoprint", "good", {"url": emulated.url, "api_key": emulated.api_key})
    _pass_over_a_bad_fleet(good)


@pytest.mark.integration
def test_a_pass_over_bad_servers_still_observes_a_real_octoprint(
    octoprint: OctoPrintServer,
) -> None:
    good = Target(9, "octoprint", "good", {"url": octoprint.url, "api_key": octoprint.api_key})
    _pass_over_a_bad_fleet(good)


def test_connecting_backs_off_between_attempts(
    emulated: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("printers.drivers.octoprint.time.monotonic", lambda: clock[0])
    asked: list[Any] = []
    driver = octoprint_at(emulated.url, emulated.api_key)
    monkeypatch.setattr(driver, "connect", lambda: asked.append(clock[0]))  # never connects
    messages = []
    for _ in range(3):
        messages.append(driver.status().message)
        clock[0] += 2.0  # under the first delay (5 s): no second attempt yet
    clock[0] = 1000.0 + connect_delay_s(1)
    messages.append(driver.status().message)
    assert asked == [1000.0, 1005.0]
    assert messages == [
        "not connected to the printer: connecting (attempt 1)",
        "not connected to the printer: connecting (attempt 1)",
        "not connected to the printer: connecting (attempt 1)",
        "not connected to the printer: connecting (attempt 2)",
    ]
    assert [connect_delay_s(n) for n in (1, 2, 3, 7, 20)] == [5, 10, 20, 300, 300]
