"""The fleet link's asynchronous OctoPrint client against a real OctoPrint (and, through
test_octoprint_emulator.py, the same tests against the emulator): status over HTTP as the sync
driver reads it, and the push socket (passive log-in, auth, subscribe, throttle, `current` and
`event` messages) the fleet link follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from printers.drivers.base import PermanentDriverError
from printers.drivers.octoprint import OctoPrintDriver
from printers.drivers.octoprint_link import OctoPrintLink, parse_current
from printers.states import DeviceState
from tests.printers import octoprint_server
from tests.printers.octoprint_server import OctoPrintServer
from tests.printers.test_octoprint_contract import IDLE, wait_for

pytestmark = pytest.mark.integration

T = TypeVar("T")
WAIT_S = 30.0  # a hang guard, not a timing assertion


def with_link(settings: dict[str, Any], work: Callable[[OctoPrintLink], Awaitable[T]]) -> T:
    async def run() -> T:
        async with aiohttp.ClientSession() as session:
            return await work(OctoPrintLink(session, settings))

    return asyncio.run(run())


@pytest.fixture
def idle(octoprint: OctoPrintServer) -> Iterator[OctoPrintDriver]:
    """The sync driver of the same printer, idle: what dispatch would use to start prints."""
    d = OctoPrintDriver(
        device_id="printer-1", settings={"url": octoprint.url, "api_key": octoprint.api_key}
    )
    wait_for(lambda: d.status().state in IDLE, "an idle printer", d)
    yield d
    if d.status().state in (DeviceState.PRINTING, DeviceState.PAUSED, DeviceState.PAUSING):
        d.cancel()
        wait_for(lambda: d.status().state is DeviceState.READY, "the cancel", d)


def test_the_link_reads_the_status_as_the_driver_does(idle: OctoPrintDriver) -> None:
    wait_for(lambda: "tool0" in idle.status().temperatures, "a temperature", idle)
    status = with_link(idle.settings, lambda link: link.status())
    read = idle.status()
    assert (status.state, status.job_name, status.message) == (read.state, read.job_name, "")
    assert set(status.temperatures) == set(read.temperatures) and "tool0" in status.temperatures


def test_the_push_socket_pushes_a_print_start_as_an_event_and_in_current(
    idle: OctoPrintDriver, tmp_path: Path
) -> None:
    gcode = tmp_path / "slow.gcode"
    gcode.write_text("G28\n" + "".join(f"G1 X{i} Y{i} F3000\nG4 P250\n" for i in range(60)))

    async def follow(link: OctoPrintLink) -> tuple[list[str], list[Any]]:
        ws = await link.socket(throttle=1)
        kinds: list[str] = []
        events: list[str] = []
        printing: list[Any] = []
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(WAIT_S):
                async for kind, payload in link.messages(ws, silence_s=WAIT_S):
                    kinds.append(kind)
                    if kind == "history":  # authenticated: now start the print
                        loop.run_in_executor(
                            None,
                            lambda: idle.start(
                                job_name="farm-run-301.gcode", gcode_path=gcode, expected_seconds=15
                            ),
                        )
                    elif kind == "event":
                        events.append(payload["type"])
                    elif kind == "current":
                        _, status = parse_current(payload)
                        if status.state is DeviceState.PRINTING:
                            printing.append(status)
                    if printing and "PrintStarted" in events:
                        break
        finally:
            await ws.close()
        return kinds, [events, printing]

    kinds, (events, printing) = with_link(idle.settings, follow)
    assert kinds[0] == "connected" and "history" in kinds
    assert "PrintStarted" in events
    assert printing[0].job_name == "farm-run-301.gcode"
    assert printing[0].state is DeviceState.PRINTING


def test_the_log_in_with_a_wrong_key_is_refused_as_the_driver_refuses_it(
    octoprint: OctoPrintServer,
) -> None:
    settings = {"url": octoprint.url, "api_key": "WRONG-KEY"}
    # A POST without a valid key is a browser's to OctoPrint: it wants the CSRF token.
    with pytest.raises(PermanentDriverError, match=r"(?s)refused to log in \(400\).*CSRF"):
        with_link(settings, lambda link: link.login())
    status = with_link(settings, lambda link: link.status())
    assert status.state is DeviceState.OFFLINE
    assert status.message.startswith("wrong API key: ")


def test_the_link_connects_a_closed_octoprint_and_says_so(idle: OctoPrintDriver) -> None:
    idle.client.disconnect()
    wait_for(lambda: idle.connection_state() in ("Offline", "Closed"), "the disconnect", idle)

    async def reconnect(link: OctoPrintLink) -> list[Any]:
        seen = []
        async with asyncio.timeout(WAIT_S):
            while (status := await link.status()).state not in IDLE:
                seen.append(status)
                await asyncio.sleep(0.1)
        return [seen, link.connect_attempts]

    seen, attempts = with_link(idle.settings, reconnect)
    assert seen[0].state is DeviceState.OFFLINE
    assert seen[0].message == "not connected to the printer: connecting (attempt 1)"
    assert attempts == 0  # connected again: the next loss starts at attempt 1


def test_a_server_that_is_down_is_offline_with_the_reason() -> None:
    url = f"http://127.0.0.1:{octoprint_server.free_port()}"  # nothing listens there
    status = with_link({"url": url, "api_key": "K"}, lambda link: link.status())
    assert status.state is DeviceState.OFFLINE
    assert status.message == f"unreachable: cannot connect (refused, or no route) ({url})"
