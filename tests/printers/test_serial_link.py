"""The serial link against simulated Marlin boards on real pty device paths (pyserial opens
them like any USB port). The host loop is stepped in the test's thread."""

from __future__ import annotations

import time
from typing import Any

import pytest

from printers.firmware_sim.model import Faults, MarlinModel
from printers.firmware_sim.pty_runner import PtyFirmware
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobOutcome, PortLink
from printers.serialhost.settings import LinkSettings
from printers.states import DeviceState
from tests.printers.serial_helpers import (
    accepted_numbers_are_consecutive,
    printed,
    program,
    run_until,
)


def connect(
    boards: PtyFirmware, model: MarlinModel, name: str = "ttyUSB0", **settings: Any
) -> tuple[SerialHost, PortLink]:
    """The production link settings (LinkSettings' defaults) unless a test says otherwise."""
    path = boards.add_port(name, model)
    link = PortLink(f"dev-{name}", LinkSettings(port=path, **settings))
    host = SerialHost([link], tick_s=0.01)
    host.serve(until=lambda: link.state is not DeviceState.OFFLINE)
    run_until(host, lambda: link.state is DeviceState.READY, "the handshake")
    return host, link


def print_to_the_end(host: SerialHost, link: PortLink, lines: int = 300) -> None:
    job = program(lines)
    link.start_job("farm-run-1.gcode", job)
    run_until(host, lambda: link.state is not DeviceState.PRINTING, "the print to end")


def partly_printed(boards: PtyFirmware, model: MarlinModel) -> tuple[SerialHost, PortLink]:
    """A link some fifty lines into a 300-line print."""
    host, link = connect(boards, model)
    link.start_job("farm-run-1.gcode", program())
    run_until(host, lambda: link.job is not None and link.job.lines_acked > 50, "some progress")
    return host, link


def resume_and_finish_the_file(host: SerialHost, link: PortLink, model: MarlinModel) -> None:
    """Resume a paused print; every file line then ran once, in order, around the park."""
    link.resume()
    run_until(host, lambda: link.state is DeviceState.FINISHED, "the end of the print")
    file_lines = [c for c in printed(model) if c not in ("G1 Z10 F600", "G1 Z-10 F600")]
    assert file_lines == list(program().commands)


def test_the_handshake_reads_the_capabilities(boards: PtyFirmware) -> None:
    host, link = connect(
        boards, MarlinModel(advanced_ok=True, autoreport_temp=True), temperature_interval_s=1
    )
    assert link.firmware is not None and link.firmware.is_marlin
    assert link.window.limit == 4  # ADVANCED_OK
    model = boards.model("ttyUSB0")
    run_until(host, lambda: "M155 S1" in [c for _, c in model.executed], "auto-report to be on")
    run_until(host, lambda: bool(link.temperatures), "a temperature report")


@pytest.mark.parametrize("advanced_ok", [True, False], ids=["windowed", "one-in-flight"])
def test_a_print_with_resends_and_checksum_errors_completes_in_order(
    boards: PtyFirmware, advanced_ok: bool
) -> None:
    model = MarlinModel(
        advanced_ok=advanced_ok, faults=Faults(checksum_error_every=13, busy_every=7)
    )
    host, link = connect(boards, model)
    print_to_the_end(host, link)
    assert link.state is DeviceState.FINISHED
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED
    assert link.job.lines_acked == link.job.lines_total == 301
    assert printed(model) == list(program().commands)  # each line once, in order
    assert accepted_numbers_are_consecutive(model)
    assert link.job.resends > 0 and link.job.errors > 0


def test_lines_lost_on_the_wire_are_recovered_after_a_timeout(boards: PtyFirmware) -> None:
    model = MarlinModel(advanced_ok=True, faults=Faults(drop_line_every=151))
    host, link = connect(boards, model)
    print_to_the_end(host, link)
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED
    assert printed(model) == list(program().commands)


def test_a_configured_window_works_without_advanced_ok(boards: PtyFirmware) -> None:
    model = MarlinModel(advanced_ok=False, faults=Faults(checksum_error_every=29))
    host, link = connect(boards, model, window=3)
    assert link.window.limit == 3
    print_to_the_end(host, link)
    assert printed(model) == list(program().commands)


def test_a_halted_firmware_fails_the_print(boards: PtyFirmware) -> None:
    host, link = connect(boards, MarlinModel(faults=Faults(halt_after_line=100)))
    print_to_the_end(host, link)
    assert link.state is DeviceState.ERROR
    assert link.job is not None and link.job.outcome is JobOutcome.FAILED
    assert "halted" in link.job.message and "halted" in link.status().message


def test_an_unplugged_port_marks_the_printer_offline_and_the_print_interrupted(
    boards: PtyFirmware,
) -> None:
    host, link = connect(boards, MarlinModel(faults=Faults(unplug_after_line=100)))
    print_to_the_end(host, link)
    assert link.state is DeviceState.OFFLINE
    assert link.job is not None and link.job.outcome is JobOutcome.INTERRUPTED
    assert "interrupted at" in link.job.message


def test_a_replugged_printer_comes_back_needing_a_person_then_prints_again(
    boards: PtyFirmware,
) -> None:
    host, link = connect(boards, MarlinModel(faults=Faults(unplug_after_line=100)))
    print_to_the_end(host, link)
    boards.replug("ttyUSB0")
    run_until(host, lambda: link.state is DeviceState.ERROR, "the board to come back")
    assert "interrupted" in link.message  # half a print is on the bed
    link.clear_error()
    run_until(host, lambda: link.state is DeviceState.READY, "the error to clear")
    print_to_the_end(host, link, lines=20)
    assert link.state is DeviceState.FINISHED


def test_it_pauses_parks_resumes_and_finishes(boards: PtyFirmware) -> None:
    model = MarlinModel()
    host, link = partly_printed(boards, model)
    link.pause()
    run_until(host, lambda: link.state is DeviceState.PAUSED, "the pause")
    acked = link.job.lines_acked if link.job else 0
    for _ in range(20):
        host.run_once()
    assert link.job is not None and link.job.lines_acked == acked  # nothing more is sent
    assert [c for _, c in model.executed][-4:] == ["M400", "G91", "G1 Z10 F600", "G90"]
    resume_and_finish_the_file(host, link, model)


def test_it_cancels_with_the_end_script(boards: PtyFirmware) -> None:
    model = MarlinModel()
    host, link = partly_printed(boards, model)
    link.cancel()
    run_until(host, lambda: link.state is DeviceState.READY, "the cancel")
    assert link.job is not None and link.job.outcome is JobOutcome.CANCELLED
    assert [c for _, c in model.executed][-1] == "M84"
    assert len(printed(model)) < 301


def test_without_auto_report_it_polls_temperatures_with_m105(boards: PtyFirmware) -> None:
    host, link = connect(boards, MarlinModel(autoreport_temp=False), temperature_interval_s=0.05)
    run_until(host, lambda: bool(link.temperatures), "a temperature report")
    assert link.temperatures["tool0"] == 24.0


def test_one_host_serves_many_ports_and_survives_one_unplugged(boards: PtyFirmware) -> None:
    links = []
    for i in range(3):
        faults = Faults(unplug_after_line=60) if i == 0 else Faults(checksum_error_every=17)
        path = boards.add_port(f"ttyUSB{i}", MarlinModel(faults=faults))
        links.append(PortLink(f"dev{i}", LinkSettings(port=path, reconnect_interval_s=0.1)))
    host = SerialHost(links, tick_s=0.01)
    host.serve(until=lambda: all(link.state is not DeviceState.OFFLINE for link in links))
    run_until(host, lambda: all(link.state is DeviceState.READY for link in links), "handshakes")
    for link in links:
        link.start_job("farm-run-1.gcode", program())
    run_until(
        host, lambda: all(link.state is not DeviceState.PRINTING for link in links), "the prints"
    )
    assert [link.state for link in links] == [
        DeviceState.OFFLINE,
        DeviceState.FINISHED,
        DeviceState.FINISHED,
    ]
    for i in (1, 2):
        assert printed(boards.model(f"ttyUSB{i}")) == list(program().commands)


def test_the_host_serves_printers_added_later_and_drops_removed_ones(boards: PtyFirmware) -> None:
    from printers.serialhost.channel import PortConfig, sync_ports

    first = boards.add_port("ttyUSB0", MarlinModel())
    second = boards.add_port("ttyUSB1", MarlinModel())
    host = SerialHost(tick_s=0.01)
    sync_ports(host, [PortConfig("a", {"port": first})])
    sync_ports(host, [PortConfig("a", {"port": first}), PortConfig("b", {"port": second})])
    run_until(host, lambda: all(x.state is DeviceState.READY for x in host.links.values()), "both")
    sync_ports(host, [PortConfig("b", {"port": second})])
    assert list(host.links) == ["b"]


def test_a_print_handed_over_while_connecting_starts_after_the_handshake(
    boards: PtyFirmware,
) -> None:
    model = MarlinModel()
    path = boards.add_port("ttyUSB0", model)
    link = PortLink("dev", LinkSettings(port=path))
    host = SerialHost([link], tick_s=0.01)
    assert link.connect() and link.state is DeviceState.CONNECTING
    link.start_job("farm-run-1.gcode", program(50))
    run_until(host, lambda: link.state is DeviceState.FINISHED, "the print")
    assert printed(model) == list(program(50).commands)


def stalled(host: SerialHost, link: PortLink, at_least_s: float) -> None:
    """Step the host until no line has been acknowledged for `at_least_s`."""
    acked, since = -1, time.monotonic()
    while time.monotonic() - since < at_least_s:
        now_acked = link.job.lines_acked if link.job else 0
        if now_acked != acked:
            acked, since = now_acked, time.monotonic()
        assert time.monotonic() - since < 30, "it never stalled"
        host.run_once()


def test_a_lost_ok_is_recovered_while_the_firmware_keeps_talking(boards: PtyFirmware) -> None:
    # Temperature reports every second (M155 S1) kept a byte-based timeout from ever elapsing.
    model = MarlinModel(advanced_ok=False, faults=Faults(drop_ok_at=(100,)))
    host, link = connect(boards, model, temperature_interval_s=1)
    started = time.monotonic()
    print_to_the_end(host, link)
    took = time.monotonic() - started
    assert link.job is not None and link.job.outcome is JobOutcome.FINISHED
    assert printed(model) == list(program().commands)  # line 100 ran once, not twice
    assert accepted_numbers_are_consecutive(model)
    assert LinkSettings(port="x").timeout_s <= took < LinkSettings(port="x").timeout_s + 3


def test_a_cancel_while_the_window_is_stuck_finishes_at_once(boards: PtyFirmware) -> None:
    model = MarlinModel(advanced_ok=False, faults=Faults(drop_ok_at=(100,)))
    host, link = connect(boards, model, temperature_interval_s=1)
    link.start_job("farm-run-1.gcode", program())
    stalled(host, link, 1.5)
    asked = time.monotonic()
    link.cancel()
    run_until(host, lambda: link.state is DeviceState.READY, "the cancel")
    assert time.monotonic() - asked < 1.0  # not after the 5 s timeout
    assert link.job is not None and link.job.outcome is JobOutcome.CANCELLED
    commands = [c for _, c in model.executed]
    assert commands[-8:] == [f"M110 N{model.executed[-8][0]}", *LinkSettings(port="x").cancel_gcode]
    assert len(printed(model)) < 110


def test_a_pause_while_the_window_is_stuck_pauses_at_once(boards: PtyFirmware) -> None:
    model = MarlinModel(advanced_ok=False, faults=Faults(drop_ok_at=(100,)))
    host, link = connect(boards, model)
    link.start_job("farm-run-1.gcode", program())
    stalled(host, link, 1.5)
    asked = time.monotonic()
    link.pause()
    run_until(host, lambda: link.state is DeviceState.PAUSED, "the pause")
    assert time.monotonic() - asked < 1.0
    resume_and_finish_the_file(host, link, model)


def test_an_emergency_stop_halts_the_firmware_at_once(boards: PtyFirmware) -> None:
    model = MarlinModel()
    host, link = partly_printed(boards, model)
    link.emergency_stop()
    assert link.state is DeviceState.ERROR and "M112" in link.message
    assert link.job is not None and link.job.outcome is JobOutcome.CANCELLED
    run_until(host, lambda: model.halted, "the firmware to halt")
    assert link.state is DeviceState.ERROR  # until a person resets it and clears the error
