"""The fleet link against the emulator in this process, over real sockets: push, slots per site,
back-off, and a share of dead printers that must not hold up the live ones.

No timing thresholds: the tests wait (with a hang guard) for what must happen, and assert
order and counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from printers.drivers.base import DeviceStatus
from printers.fleetlink import FleetLink, LinkSettings, Observation, Target, backoff_s
from printers.octoprint_emulator.faults import Faults, Mode
from printers.octoprint_emulator.server import EmulatorServer
from printers.states import DeviceState

WAIT_S = 30.0  # a hang guard, not a timing assertion
KEY = "EMULATED-KEY"


def emulator(printers: int, **options: Any) -> EmulatorServer:
    return EmulatorServer(printers=printers, api_key=KEY, connected=True, **options).start()


@pytest.fixture
def fleet() -> Iterator[EmulatorServer]:
    server = emulator(12)
    yield server
    server.stop()


def targets_of(server: EmulatorServer, *, site: str = "", timeout_s: float = 10) -> list[Target]:
    return [
        Target(
            n,
            "octoprint",
            f"printer-{n}",
            {"url": server.printer_url(n), "api_key": KEY, "timeout_s": timeout_s},
            site=site,
        )
        for n in server.printers
    ]


class Seen:
    """`record` for the link: every status it was handed, per printer."""

    def __init__(self) -> None:
        self.statuses: dict[int, list[DeviceStatus]] = {}

    def __call__(self, observations: Sequence[Observation]) -> None:
        for o in observations:
            self.statuses.setdefault(o.target.key, []).append(o.status)

    def last(self, key: int) -> DeviceStatus | None:
        found = self.statuses.get(key)
        return found[-1] if found else None


def tick_until(link: FleetLink, done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}: {link.watching()}"
        link.tick()
        time.sleep(0.05)


def start_and_see(server: EmulatorServer, link: FleetLink, seen: Seen, n: int, name: str) -> None:
    """A print starts at printer n (as if at the printer); tick until the link has seen it."""
    server.printers[n].inject("start", server.clock(), name=name, duration_s=3600)
    tick_until(
        link,
        lambda: (s := seen.last(n)) is not None and s.state is DeviceState.PRINTING,
        "the print seen",
    )


def test_it_follows_printers_on_their_push_sockets_and_sees_a_change_there(
    fleet: EmulatorServer,
) -> None:
    seen = Seen()
    targets = targets_of(fleet)
    link = FleetLink(targets=lambda: targets, record=seen, settings=LinkSettings(throttle=1))
    try:
        tick_until(link, lambda: set(link.watching().values()) == {"push"}, "every socket")
        reads = fleet.requests["/api/job"]
        start_and_see(fleet, link, seen, 3, "part.gcode")
    finally:
        link.close()
    assert seen.last(3).job_name == "part.gcode"  # type: ignore[union-attr]
    # Nobody was polled meanwhile: the printer whose events said it changed was read (once,
    # or once more for an event that came during the read), none of the other eleven.
    assert 1 <= fleet.requests["/api/job"] - reads <= 2
    assert all(seen.last(n).state is DeviceState.READY for n in fleet.printers if n != 3)  # type: ignore[union-attr]


def test_a_dead_share_does_not_hold_up_the_live_printers() -> None:
    """Half black-holed (accepts, never answers; a 60 s time-out), a quarter refused, and
    slots for two requests at a time: the live printers are all seen while the black-holed
    ones are still waiting for their first answer."""
    server = emulator(24, faults=Faults(blackhole_share=0.5, offline_share=0.25))
    modes = {n: server.faults.mode(n) for n in server.printers}
    assert set(modes.values()) == set(Mode)  # the shares put printers in each mode
    seen = Seen()
    targets = targets_of(server, timeout_s=60)
    settings = LinkSettings(per_site=2, hold_seconds=0.2)
    link = FleetLink(targets=lambda: targets, record=seen, settings=settings)
    online = [n for n, mode in modes.items() if mode is Mode.ONLINE]
    try:
        tick_until(
            link,
            lambda: all((s := seen.last(n)) and s.state is DeviceState.READY for n in online),
            "every live printer",
        )
        holes = [n for n, mode in modes.items() if mode is Mode.BLACKHOLE]
        assert not any(n in seen.statuses for n in holes)  # still waiting for an answer
        refused = [n for n, mode in modes.items() if mode is Mode.OFFLINE]
        tick_until(link, lambda: all(n in seen.statuses for n in refused), "the refusals")
        assert all(
            seen.last(n).message.startswith("unreachable: cannot connect")  # type: ignore[union-attr]
            for n in refused
        )
        tick_until(
            link,
            lambda: all(link.watching().get(n) == "backoff" for n in refused),
            "the refused printers backing off",
        )
    finally:
        link.close()
        server.stop()


def test_a_sites_requests_stay_within_its_slots() -> None:
    """Every printer answers slowly; slots are held for the whole request: never more than
    the site's slots under way at once, and every printer read."""
    server = emulator(10, faults=Faults(slow_share=1.0, slow_seconds=0.3))
    seen = Seen()
    targets = targets_of(server)
    settings = LinkSettings(per_site=3, hold_seconds=30, push=False)
    link = FleetLink(targets=lambda: targets, record=seen, settings=settings)
    try:
        assert link.run_once() == 10
    finally:
        link.close()
        server.stop()
    assert len(seen.statuses) == 10
    assert server.most_in_flight == 3


def test_slots_are_per_site() -> None:
    server = emulator(8, faults=Faults(slow_share=1.0, slow_seconds=0.3))
    seen = Seen()
    targets = [
        Target(t.key, t.kind, t.device_id, t.settings, site="a" if t.key < 4 else "b")
        for t in targets_of(server)
    ]
    settings = LinkSettings(per_site=1, hold_seconds=30, push=False)
    link = FleetLink(targets=lambda: targets, record=seen, settings=settings)
    try:
        link.run_once()
    finally:
        link.close()
        server.stop()
    assert len(seen.statuses) == 8
    assert server.most_in_flight == 2  # one per site


def test_a_dropped_socket_is_followed_again() -> None:
    """A share of requests and push messages lost: the link keeps every printer watched
    and still sees a change."""
    server = emulator(6, faults=Faults(drop_share=0.2))
    seen = Seen()
    targets = targets_of(server)
    link = FleetLink(targets=lambda: targets, record=seen, settings=LinkSettings(throttle=1))
    try:
        tick_until(link, lambda: len(seen.statuses) == 6, "every printer")
        start_and_see(server, link, seen, 2, "p.gcode")
    finally:
        link.close()
        server.stop()


def test_back_off_doubles_up_to_its_most() -> None:
    assert [backoff_s(n, most=30) for n in (1, 2, 3, 4, 5, 6, 7, 20)] == [
        1,
        2,
        4,
        8,
        16,
        30,
        30,
        30,
    ]
