"""The serial host against an independent Marlin simulation: OctoPrint's bundled virtual
printer behind a pty (tests/printers/virtual_printer_bridge.py) with its DEFAULT settings, and
the production link settings (LinkSettings' defaults). Our simulator cannot agree with our own
misreading of the protocol; this one can disagree.

By default the virtual printer asks for a resend at line 100, asks for one at 105 and then
drops the answer to the resent line (a lost `ok`), answers line 110 with an error and nothing
else, and rejects 115's checksum; it says `wait` every second while idle."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trimesh

from printers.protocol.lines import GcodeProgram, load_program, parse_program
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobOutcome, PortLink
from printers.serialhost.settings import LinkSettings
from printers.states import DeviceState
from tests.printers import octoprint_server
from tests.printers.octoprint_server import OctoPrintUnavailable
from tests.printers.serial_helpers import run_until

pytestmark = pytest.mark.integration

BRIDGE = Path(__file__).with_name("virtual_printer_bridge.py")
TIMEOUT_S = LinkSettings(port="-").timeout_s  # the production communication timeout

StartVirtualMarlin = Callable[..., str]  # key=value settings -> the pty's device path


@pytest.fixture
def virtual_marlin(tmp_path: Path) -> Iterator[StartVirtualMarlin]:
    """Starts OctoPrint's virtual printer on a pty: its defaults, overridden by key=value."""
    try:
        octoprint = octoprint_server.ensure_venv()
    except OctoPrintUnavailable as exc:
        pytest.skip(f"OctoPrint cannot be installed here: {exc}")
    processes: list[subprocess.Popen[str]] = []

    def start(*settings: str) -> str:
        process = subprocess.Popen(
            [str(octoprint.with_name("python")), str(BRIDGE), str(tmp_path), *settings],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        return process.stdout.readline().strip()

    yield start
    for process in processes:
        assert process.stdin is not None
        process.stdin.close()  # the bridge serves until its stdin closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def connected(port: str) -> tuple[SerialHost, PortLink]:
    link = PortLink("vp", LinkSettings(port=port))  # the production settings
    host = SerialHost([link], tick_s=0.01)
    host.serve(until=lambda: link.state is not DeviceState.OFFLINE)
    run_until(host, lambda: link.state is DeviceState.READY, "the handshake")
    assert link.firmware is not None and link.firmware.name == "Virtual Marlin 1.0"
    return host, link


def quick_moves(lines: int) -> GcodeProgram:
    # Short, fast moves: the virtual printer sleeps for a tenth of each move's duration.
    return parse_program("".join(f"G1 X{i % 2}.{i % 10} Y1 F60000\n" for i in range(lines)))


def print_through(
    host: SerialHost, link: PortLink, job: GcodeProgram, guard_s: float, name: str = "farm-run-1"
) -> float:
    started = time.monotonic()
    link.start_job(f"{name}.gcode", job)
    deadline = started + guard_s
    while link.state is DeviceState.PRINTING:
        assert time.monotonic() < deadline, f"stalled at {link.job}"
        host.run_once()
    return time.monotonic() - started


def test_a_print_with_the_default_simulated_errors_completes(
    virtual_marlin: StartVirtualMarlin,
) -> None:
    host, link = connected(virtual_marlin())
    took = print_through(host, link, quick_moves(300), guard_s=30)
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED
    assert link.job.lines_acked == link.job.lines_total == 300
    assert link.job.resends >= 3  # lines 100, 105, 115 (110 is recovered by the probe)
    # The lost ok at 105 ends with a probe after the communication timeout, the unanswered
    # error at 110 a second after it; the lines themselves take about a second.
    assert took < TIMEOUT_S + 5


def test_a_print_with_random_resends_as_well_completes(virtual_marlin: StartVirtualMarlin) -> None:
    host, link = connected(virtual_marlin("resend_ratio=10"))
    print_through(host, link, quick_moves(300), guard_s=40)
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED
    assert link.job.lines_acked == link.job.lines_total == 300
    assert link.job.resends > 10


def test_a_cancel_during_the_stall_completes_in_seconds(
    virtual_marlin: StartVirtualMarlin,
) -> None:
    host, link = connected(virtual_marlin())
    link.start_job("farm-run-1.gcode", quick_moves(300))
    acked, since = -1, time.monotonic()
    while not (acked > 90 and time.monotonic() - since > 1.5):  # stuck at the lost ok
        assert time.monotonic() - since < 20, "it never stalled"
        if link.job is not None and link.job.lines_acked != acked:
            acked, since = link.job.lines_acked, time.monotonic()
        host.run_once()
    assert acked < 110 and link.state is DeviceState.PRINTING
    asked = time.monotonic()
    link.cancel()
    run_until(host, lambda: link.state is not DeviceState.CANCELLING, "the cancel")
    assert link.state is DeviceState.READY
    # The cancel script's own line 110 meets the unanswered-error fault: one more second.
    assert time.monotonic() - asked < 3.0
    assert link.job is not None and link.job.outcome is JobOutcome.CANCELLED
    # The printer goes on answering: the next print runs.
    print_through(host, link, quick_moves(20), guard_s=20, name="farm-run-2")
    assert link.state is DeviceState.FINISHED


@pytest.fixture
def prusaslicer_gcode(tmp_path: Path) -> Path:
    """A small box sliced by PrusaSlicer through the farm's own slicing path."""
    from slicing import prusaslicer
    from slicing.prepare import prepare
    from slicing.profile import PrintProfile
    from tests.printers.serial_helpers import require_prusaslicer

    require_prusaslicer(prusaslicer.executable())
    mesh = tmp_path / "box.stl"
    trimesh.creation.box(extents=(8.0, 8.0, 1.0)).export(mesh)
    prepared = prepare(mesh, "mesh", PrintProfile(), out_dir=tmp_path, engine="prusaslicer")
    assert prepared.engine.startswith("PrusaSlicer"), prepared.engine_reason
    assert prepared.gcode_path is not None
    return Path(prepared.gcode_path)


def test_a_prusaslicer_gcode_prints_end_to_end(
    virtual_marlin: StartVirtualMarlin, prusaslicer_gcode: Path
) -> None:
    job = load_program(prusaslicer_gcode)
    assert any(c.startswith("M109") for c in job.commands)  # heats and waits, as a real print
    host, link = connected(virtual_marlin())
    print_through(host, link, job, guard_s=90)
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED, link.job
    assert link.job.lines_acked == link.job.lines_total == len(job.commands)
