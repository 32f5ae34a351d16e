"""Serial printers end to end: the serial driver hands a run to a serial host (running in a
thread here, as it would in the fleet link's process), which streams it to a simulated Marlin
on a pty; `print_file --wait` follows it through the farm's services."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from pytest_django import Settings

from farm.models import Printer, PrintRun
from farm.services.fleet import fleet_link_build
from printers.drivers.serial import SerialDriver
from printers.firmware_sim.gcode_gen import realistic_gcode
from printers.firmware_sim.model import Faults, MarlinModel
from printers.firmware_sim.pty_runner import PtyFirmware
from printers.serialhost.channel import PortConfig, serve_in_thread
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobOutcome
from printers.states import DeviceState
from tests.printers.serial_helpers import HANG_GUARD_S

MakeSerialPrinter = Callable[[MarlinModel], Printer]  # a farm printer on a simulated board


@pytest.fixture(autouse=True)
def _local_cache(settings: Settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.FARM_OFFLINE_GRACE_SECONDS = 0
    # Printer ids repeat from test to test; a status a previous test's host published must
    # not pass for this test's printer.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def gcode(tmp_path: Path) -> Path:
    path = tmp_path / "bracket.gcode"
    path.write_text(realistic_gcode(400))
    return path


@pytest.fixture
def serial_printer(
    transactional_db: None, make_printer: Callable[..., Printer], boards: PtyFirmware
) -> Iterator[MakeSerialPrinter]:
    def make(model: MarlinModel) -> Printer:
        path = boards.add_port("ttyUSB0", model)
        printer = make_printer(
            "ender-1",
            connection_kind="serial",
            connection_settings={"port": path},  # the production link settings
            state=DeviceState.OFFLINE,
        )
        ports = [PortConfig(printer.device_id, printer.connection_settings)]
        host, thread = serve_in_thread(lambda: ports, tick_s=0.01, on_tick_every_s=0.05)
        hosts.append((host, thread))
        driver = SerialDriver(device_id=printer.device_id, settings=printer.connection_settings)
        wait(lambda: driver.status().state is DeviceState.READY)
        fleet_link_build(threads=1).run_once()  # the farm sees it ready, as the fleet link would
        return printer

    hosts: list[tuple[SerialHost, threading.Thread]] = []
    yield make
    for host, thread in hosts:
        host.stop()
        thread.join(timeout=10)


def wait(done: Callable[[], bool]) -> None:
    import time

    deadline = time.monotonic() + HANG_GUARD_S
    while not done():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def print_file(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command(
        "print_file", *args, "--json", "--wait", "--timeout", str(HANG_GUARD_S), stdout=out
    )
    return json.loads(out.getvalue())


def test_print_file_streams_a_whole_print_with_resends(
    admin_user: User, serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    serial_printer(MarlinModel(faults=Faults(checksum_error_every=23)))
    result = print_file(str(gcode), "--printer", "ender-1")
    assert result["status"] == "awaiting_removal"
    assert result["lines_acked"] == result["lines_total"] == 400
    assert result["resends"] > 0 and result["lines_sent"] > 400


def test_a_repeated_dispatch_hands_the_run_over_once(
    admin_user: User, serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    printer = serial_printer(MarlinModel())
    driver = SerialDriver(device_id=printer.device_id, settings=printer.connection_settings)
    driver.start(job_name="farm-run-9.gcode", gcode_path=gcode, expected_seconds=10)
    driver.start(job_name="farm-run-9.gcode", gcode_path=gcode, expected_seconds=10)
    from printers.models import SerialCommand

    assert SerialCommand.objects.filter(job_name="farm-run-9.gcode").count() == 1


def test_a_halted_firmware_fails_the_run(
    admin_user: User, serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    serial_printer(MarlinModel(faults=Faults(halt_after_line=120)))
    result = print_file(str(gcode), "--printer", "ender-1")
    assert result["status"] == "failed"
    assert "halted" in result["failure_reason"]


def test_an_unplugged_printer_interrupts_the_run(
    admin_user: User, serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    serial_printer(MarlinModel(faults=Faults(unplug_after_line=120)))
    result = print_file(str(gcode), "--printer", "ender-1")
    run = PrintRun.objects.get(pk=result["run"])
    # The host's own books say the print stopped half-way: a lost USB print is a failed one
    # (no doubt, as there is for a network printer that may still be printing).
    assert result["status"] == run.status == "failed"
    assert "lost" in run.failure_reason
    assert Printer.objects.get(name="ender-1").state == DeviceState.ERROR


def test_the_driver_pauses_resumes_and_cancels_through_the_host(
    serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    printer = serial_printer(MarlinModel())
    driver = SerialDriver(device_id=printer.device_id, settings=printer.connection_settings)
    big = gcode.with_name("big.gcode")
    big.write_text(realistic_gcode(20000))
    driver.start(job_name="farm-run-7.gcode", gcode_path=big, expected_seconds=60)
    wait(lambda: driver.status().state is DeviceState.PRINTING)
    driver.pause()
    wait(lambda: driver.status().state is DeviceState.PAUSED)
    assert driver.status().job_name == "farm-run-7.gcode"
    driver.resume()
    wait(lambda: driver.status().state is DeviceState.PRINTING)
    driver.cancel()
    wait(lambda: driver.status().state is DeviceState.READY)
    assert "cancelled" in driver.status().message
    report = driver.job_report()
    assert report is not None and report.outcome is JobOutcome.CANCELLED
    assert 0 < report.lines_acked < report.lines_total


def test_a_printer_without_a_serial_host_is_offline_and_dispatch_retries(
    db: None, make_printer: Callable[..., Printer], gcode: Path
) -> None:
    from printers.drivers.base import TransientDriverError

    printer = make_printer(
        "ender-2", connection_kind="serial", connection_settings={"port": "/dev/ttyUSB7"}
    )
    driver = SerialDriver(device_id=printer.device_id, settings=printer.connection_settings)
    status = driver.status()
    assert status.state is DeviceState.OFFLINE and "no serial host" in status.message
    with pytest.raises(TransientDriverError, match="not reachable"):
        driver.start(job_name="farm-run-8.gcode", gcode_path=gcode, expected_seconds=10)


def test_bad_serial_settings_fail_permanently(db: None) -> None:
    from printers.drivers.base import PermanentDriverError

    with pytest.raises(PermanentDriverError, match="needs a port"):
        SerialDriver(device_id="printer-9", settings={"baud": 115200})


def test_a_start_the_host_refused_is_handed_over_again(db: None, gcode: Path) -> None:
    from printers.models import SerialCommand
    from printers.serialhost.channel import publish_status
    from printers.serialhost.link import LinkStatus

    publish_status(LinkStatus(device_id="printer-5", port="/dev/ttyUSB5", state=DeviceState.READY))
    refused = SerialCommand.objects.create(
        device_id="printer-5",
        kind=SerialCommand.Kind.START,
        job_name="farm-run-3.gcode",
        result="cannot start: printer is connecting",
    )
    driver = SerialDriver(device_id="printer-5", settings={"port": "/dev/ttyUSB5"})
    driver.start(job_name="farm-run-3.gcode", gcode_path=gcode, expected_seconds=10)
    refused.refresh_from_db()
    assert refused.result == "" and refused.taken_at is None


def test_verifying_a_port_the_fleet_link_holds_never_opens_it(
    admin_user: User, serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    from farm.models import Site
    from farm.services.printer_setup import printer_add

    model = MarlinModel()
    printer = serial_printer(model)
    driver = SerialDriver(device_id=printer.device_id, settings=printer.connection_settings)
    big = gcode.with_name("big.gcode")
    big.write_text(realistic_gcode(3000))
    driver.start(job_name="farm-run-7.gcode", gcode_path=big, expected_seconds=60)
    wait(lambda: driver.status().state is DeviceState.PRINTING)
    # The same port saved again with "Verify" ticked (the admin form calls this service).
    _, checked = printer_add(
        name="ender-1-again",
        site=Site.objects.get(pk=printer.site_id),
        kind="serial",
        settings=dict(printer.connection_settings),
    )
    assert checked is not None and "read from the fleet link's handshake" in checked.summary
    assert checked.firmware.startswith("Marlin")
    wait(lambda: driver.status().state is DeviceState.FINISHED)
    assert [c for _, c in model.executed].count("M115") == 1  # one handshake: the host's
    report = driver.job_report()
    assert report is not None and report.outcome is JobOutcome.FINISHED


def test_a_second_opener_is_refused_by_the_ports_lock(
    serial_printer: MakeSerialPrinter, boards: PtyFirmware
) -> None:
    from printers.drivers.base import TransientDriverError
    from printers.serialhost.probe import probe_firmware
    from printers.serialhost.settings import LinkSettings

    model = MarlinModel()
    printer = serial_printer(model)
    with pytest.raises(TransientDriverError, match="lock"):
        # Behind the cache's back (another machine's fleet link, a cleared cache): the host
        # holds the port's flock, so the probe fails at open, before it writes anything.
        probe_firmware(LinkSettings.from_dict(printer.connection_settings))
    assert [c for _, c in model.executed].count("M115") == 1


def test_verifying_a_port_nobody_holds_asks_the_printer(db: None, boards: PtyFirmware) -> None:
    from farm.services.printer_setup import printer_verify

    checked = printer_verify(kind="serial", settings={"port": boards.add_port("ttyUSB3")})
    assert checked.firmware.startswith("Marlin") and "fleet link" not in checked.summary


def test_a_silent_serial_host_is_said_at_once_and_dispatch_retries(db: None, gcode: Path) -> None:
    import dataclasses
    import time

    from django.core.cache import cache

    from printers.drivers.base import TransientDriverError
    from printers.serialhost.channel import status_key
    from printers.serialhost.link import LinkStatus

    # A fleet link that stopped a minute ago: its last status has not expired from the cache.
    last = LinkStatus(
        device_id="printer-6",
        port="/dev/ttyUSB6",
        state=DeviceState.READY,
        published_at=time.time() - 60,
    )
    cache.set(status_key("printer-6"), dataclasses.asdict(last), 300)
    driver = SerialDriver(device_id="printer-6", settings={"port": "/dev/ttyUSB6"})
    status = driver.status()
    assert status.state is DeviceState.OFFLINE
    assert "no serial host is serving /dev/ttyUSB6" in status.message
    assert "last reported 60 s ago" in status.message
    started = time.monotonic()
    with pytest.raises(TransientDriverError, match="no serial host"):
        driver.start(job_name="farm-run-4.gcode", gcode_path=gcode, expected_seconds=10)
    assert time.monotonic() - started < 1


def test_the_emergency_stop_reaches_the_host_as_its_own_command(
    serial_printer: MakeSerialPrinter, gcode: Path
) -> None:
    from printers.commands import PrinterCommand

    model = MarlinModel()
    printer = serial_printer(model)
    driver = SerialDriver(device_id=printer.device_id, settings=printer.connection_settings)
    big = gcode.with_name("big.gcode")
    big.write_text(realistic_gcode(20000))
    driver.start(job_name="farm-run-7.gcode", gcode_path=big, expected_seconds=60)
    wait(lambda: driver.status().state is DeviceState.PRINTING)
    driver.run_command(PrinterCommand.EMERGENCY_STOP)
    wait(lambda: driver.status().state is DeviceState.ERROR)
    assert "M112" in driver.status().message
    wait(lambda: model.halted)
