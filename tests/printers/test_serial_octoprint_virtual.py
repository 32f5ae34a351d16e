"""The serial host against an independent Marlin simulation: OctoPrint's bundled virtual
printer behind a pty (tests/printers/virtual_printer_bridge.py), with its own resend
injection. Our simulator cannot agree with our own misreading of the protocol; this one can
disagree."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.protocol.lines import parse_program
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobOutcome, PortLink
from printers.serialhost.settings import LinkSettings
from printers.states import DeviceState
from tests.printers import octoprint_server
from tests.printers.octoprint_server import OctoPrintUnavailable
from tests.printers.serial_helpers import run_until

pytestmark = pytest.mark.integration

BRIDGE = Path(__file__).with_name("virtual_printer_bridge.py")


@pytest.fixture
def virtual_marlin(tmp_path: Path) -> Iterator[str]:
    """The device path of an OctoPrint virtual printer that asks for a resend every 10th line."""
    try:
        octoprint = octoprint_server.ensure_venv()
    except OctoPrintUnavailable as exc:
        pytest.skip(f"OctoPrint cannot be installed here: {exc}")
    process = subprocess.Popen(
        [str(octoprint.with_name("python")), str(BRIDGE), str(tmp_path), "resend_ratio=10"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    path = process.stdout.readline().strip()
    yield path
    process.stdin.close()  # the bridge serves until its stdin closes
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_a_print_with_the_virtual_printers_resends_completes(virtual_marlin: str) -> None:
    # Short, fast moves: the virtual printer sleeps for each move's simulated duration.
    job = parse_program("".join(f"G1 X{i % 2}.{i % 10} Y1 F60000\n" for i in range(200)))
    link = PortLink("vp", LinkSettings(port=virtual_marlin, timeout_s=1))
    host = SerialHost([link], tick_s=0.01)
    host.serve(until=lambda: link.state is not DeviceState.OFFLINE)
    run_until(host, lambda: link.state is DeviceState.READY, "the handshake")
    assert link.firmware is not None and link.firmware.name == "Virtual Marlin 1.0"
    link.start_job("farm-run-1.gcode", job)
    run_until(host, lambda: link.state is not DeviceState.PRINTING, "the print to end")
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED
    assert link.job.lines_acked == link.job.lines_total == 200
    assert link.job.resends > 0
