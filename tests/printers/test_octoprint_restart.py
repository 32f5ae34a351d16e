"""A real OctoPrint restarted (so no longer connected to its printer) is connected again by the
farm's fleet link, the reason shown meanwhile, and then takes the next job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from farm.models import Printer
from farm.services.fleet import fleet_link_build
from farm.services.printer_control import printer_driver
from printers.secrets import encrypt
from tests.printers import octoprint_server
from tests.printers.octoprint_server import OctoPrintServer, OctoPrintUnavailable

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WAIT_S = 60.0  # a hang guard, not a timing assertion


@pytest.fixture
def own_octoprint(tmp_path: Path) -> Iterator[list[OctoPrintServer]]:
    """An OctoPrint of this test's own (the session's one must not be restarted under others);
    a list, so the test can put the restarted server in for the clean-up."""
    try:
        servers = [octoprint_server.start(tmp_path / "octoprint")]
    except OctoPrintUnavailable as exc:
        pytest.skip(f"OctoPrint cannot be installed here: {exc}")
    yield servers
    servers[-1].stop()


def wait_for(done: Callable[[], bool], what: str, last: Callable[[], Any]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}; last: {last()}"
        time.sleep(0.2)


def test_a_restarted_octoprint_is_connected_again_and_used_for_the_next_job(
    make_printer: Any, own_octoprint: list[OctoPrintServer], tmp_path: Path
) -> None:
    server = own_octoprint[0]
    printer: Printer = make_printer(
        "mk4-1",
        state="offline",
        connection_kind="octoprint",
        connection_settings={"url": server.url, "port": "VIRTUAL", "baud": 115200},
        secret_encrypted=encrypt(server.api_key),
    )
    link = fleet_link_build()

    def state() -> tuple[str, str]:
        link.run_once()
        printer.refresh_from_db()
        return printer.state, printer.state_message

    wait_for(lambda: state()[0] == "ready", "the printer ready before the restart", state)

    began = time.monotonic()
    server = octoprint_server.restart(server)
    own_octoprint.append(server)
    restarted_s = time.monotonic() - began
    assert server.process.poll() is None
    seen = {state()}  # the first pass after the restart finds it closed, and asks it to connect
    assert ("offline", "not connected to the printer: connecting (attempt 1)") in seen or any(
        s == "connecting" for s, _ in seen
    ), seen

    def connected() -> bool:
        seen.add(state())
        return printer.state == "ready"

    wait_for(connected, "the reconnection", state)
    reconnected_s = time.monotonic() - began - restarted_s
    assert reconnected_s < 30, f"{reconnected_s:.1f} s to reconnect after the restart"

    gcode = tmp_path / "next.gcode"
    gcode.write_text("G28\nG1 X10 Y10 F3000\nG1 X20 Y20\n")
    printer_driver(printer).start(
        job_name="farm-run-900.gcode", gcode_path=gcode, expected_seconds=1
    )
    wait_for(lambda: state()[0] == "finished", "the next job to finish", state)
