"""The OctoPrint driver against a real OctoPrint server with its bundled virtual printer.

The server is installed into its own venv on first use (tests/printers/octoprint_server.py).
Locally these tests skip only when OctoPrint cannot be installed; with CI=true a skip fails.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from octorest import OctoRest

from printers.commands import PrinterCommand
from printers.drivers.base import PermanentDriverError, TransientDriverError
from printers.drivers.octoprint import OctoPrintDriver
from printers.states import DeviceState
from tests.printers import octoprint_server
from tests.printers.octoprint_server import OctoPrintServer

pytestmark = pytest.mark.integration

WAIT_S = 30.0  # a hang guard for state changes on the server, not a timing assertion
IDLE = (DeviceState.READY, DeviceState.FINISHED)  # connected, not printing


@pytest.fixture
def driver(octoprint: OctoPrintServer) -> Iterator[OctoPrintDriver]:
    d = OctoPrintDriver(
        device_id="printer-1", settings={"url": octoprint.url, "api_key": octoprint.api_key}
    )
    wait_for(
        lambda: d.status().state in (DeviceState.READY, DeviceState.FINISHED), "an idle printer", d
    )
    yield d
    # A print the test left starting (a 3 MB file takes OctoPrint a while to open) would
    # still be printing in the next test: wait until it has started, then cancel it.
    wait_for(lambda: d.status().state is not DeviceState.STARTING, "the print to start", d)
    if d.status().state in (DeviceState.PRINTING, DeviceState.PAUSED, DeviceState.PAUSING):
        d.cancel()
        wait_for(lambda: d.status().state is DeviceState.READY, "the cancel", d)


@pytest.fixture
def slow_gcode(tmp_path: Path) -> Path:
    """About 15 s on the virtual printer: long enough to pause, resume and cancel."""
    path = tmp_path / "slow.gcode"
    path.write_text("G28\n" + "".join(f"G1 X{i} Y{i} F3000\nG4 P250\n" for i in range(60)))
    return path


@pytest.fixture
def quick_gcode(tmp_path: Path) -> Path:
    path = tmp_path / "quick.gcode"
    path.write_text("G28\nG1 X10 Y10 F3000\nG1 X20 Y20\n")
    return path


def wait_for(done: Callable[[], bool], what: str, driver: OctoPrintDriver | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        last = driver.status() if driver else None
        assert time.monotonic() < deadline, f"gave up waiting for {what}; last status {last}"
        time.sleep(0.2)


def test_it_reads_version_and_build_volume(driver: OctoPrintDriver) -> None:
    assert driver.version()["server"].startswith("1.")
    caps = driver.capabilities()
    assert caps.firmware.startswith("OctoPrint 1.")
    assert caps.build_volume_mm == (200.0, 200.0, 200.0)  # the _default profile


def test_it_connects_a_disconnected_printer(driver: OctoPrintDriver, quick_gcode: Path) -> None:
    driver.client.disconnect()
    wait_for(lambda: driver.connection_state() in ("Offline", "Closed"), "the disconnect", driver)
    fresh = OctoPrintDriver(device_id="printer-1", settings=driver.settings)  # as a worker has
    with pytest.raises(TransientDriverError, match="asked it to connect"):
        fresh.start(job_name="farm-run-100.gcode", gcode_path=quick_gcode, expected_seconds=1)
    wait_for(lambda: driver.status().state in IDLE, "the connection", driver)


def test_status_connects_a_closed_octoprint_and_says_so(driver: OctoPrintDriver) -> None:
    """OctoPrint's default after a restart: not connected. The polling driver connects it."""
    driver.client.disconnect()
    wait_for(lambda: driver.connection_state() in ("Offline", "Closed"), "the disconnect", driver)
    seen = []
    deadline = time.monotonic() + WAIT_S
    while (status := driver.status()).state not in IDLE:
        seen.append(status)
        assert time.monotonic() < deadline, f"never reconnected: {seen[-3:]}"
        time.sleep(0.1)
    assert seen[0].state is DeviceState.OFFLINE
    assert seen[0].message == "not connected to the printer: connecting (attempt 1)"
    assert driver.connect_attempts == 0  # connected again: the next loss starts at attempt 1


def test_connect_uses_the_port_and_baud_of_the_settings(driver: OctoPrintDriver) -> None:
    with_port = OctoPrintDriver(
        device_id="printer-1", settings={**driver.settings, "port": "VIRTUAL", "baud": 115200}
    )
    with_port.run_command(PrinterCommand.CONNECT)  # the operator's Connect (reconnects)
    wait_for(lambda: with_port.status().state in IDLE, "the connection", with_port)
    current = with_port.client.connection_info()["current"]
    assert (current["port"], current["baudrate"]) == ("VIRTUAL", 115200)


def test_a_port_octoprint_does_not_have_is_refused_with_its_reason(
    driver: OctoPrintDriver,
) -> None:
    wrong = OctoPrintDriver(
        device_id="printer-1", settings={**driver.settings, "port": "/dev/ttyNOPE"}
    )
    with pytest.raises(PermanentDriverError, match=r"refused to connect to the printer \(400\)"):
        wrong.connect()


def test_it_uploads_starts_and_reports_progress(driver: OctoPrintDriver, slow_gcode: Path) -> None:
    driver.start(job_name="farm-run-101.gcode", gcode_path=slow_gcode, expected_seconds=15)
    status = driver.status()
    assert status.job_name == "farm-run-101.gcode"
    assert status.state in (DeviceState.STARTING, DeviceState.PRINTING)
    wait_for(lambda: (driver.status().progress or 0) > 0.05, "progress", driver)
    wait_for(lambda: "tool0" in driver.status().temperatures, "a temperature", driver)


def test_a_three_megabyte_gcode_streams_to_the_printer_whole(
    driver: OctoPrintDriver, tmp_path: Path
) -> None:
    from tests.printers.test_octoprint_upload import big_gcode

    gcode = big_gcode(tmp_path / "big.gcode", 3)
    driver.start(job_name="farm-run-110.gcode", gcode_path=gcode, expected_seconds=3600)
    file = driver.client.job_info()["job"]["file"]
    assert (file["name"], file["size"]) == ("farm-run-110.gcode", gcode.stat().st_size)
    assert driver.status().state in (DeviceState.STARTING, DeviceState.PRINTING)


def test_an_uploaded_gcode_downloads_back_byte_for_byte(
    driver: OctoPrintDriver, octoprint: OctoPrintServer, tmp_path: Path
) -> None:
    """(The real OctoPrint only: the emulator keeps sizes and line counts, not files.)"""
    from tests.printers.test_octoprint_upload import big_gcode

    gcode = big_gcode(tmp_path / "big.gcode", 3)
    driver._upload(gcode, "farm-run-111.gcode", select=False, print_=False)
    got = requests.get(
        f"{octoprint.url}/downloads/files/local/farm-run-111.gcode",
        headers={"X-Api-Key": octoprint.api_key},
        timeout=30,
    )
    assert got.status_code == 200
    assert got.content == gcode.read_bytes()


def test_a_second_dispatch_of_the_same_run_does_nothing(
    driver: OctoPrintDriver, slow_gcode: Path
) -> None:
    driver.start(job_name="farm-run-102.gcode", gcode_path=slow_gcode, expected_seconds=15)
    wait_for(lambda: (driver.status().progress or 0) > 0.05, "progress", driver)
    before = driver.status().progress or 0
    driver.start(job_name="farm-run-102.gcode", gcode_path=slow_gcode, expected_seconds=15)
    after = driver.status()
    assert after.job_name == "farm-run-102.gcode"
    assert (after.progress or 0) >= before  # not restarted from zero


def test_another_run_while_printing_is_a_transient_busy(
    driver: OctoPrintDriver, slow_gcode: Path
) -> None:
    driver.start(job_name="farm-run-103.gcode", gcode_path=slow_gcode, expected_seconds=15)
    with pytest.raises(TransientDriverError, match="busy"):
        driver.start(job_name="farm-run-104.gcode", gcode_path=slow_gcode, expected_seconds=15)


def test_it_pauses_and_resumes_with_explicit_actions(
    driver: OctoPrintDriver, slow_gcode: Path
) -> None:
    driver.start(job_name="farm-run-105.gcode", gcode_path=slow_gcode, expected_seconds=15)
    wait_for(lambda: driver.status().state is DeviceState.PRINTING, "printing", driver)
    driver.pause()
    wait_for(lambda: driver.status().state is DeviceState.PAUSED, "the pause", driver)
    driver.pause()  # explicit action: a second pause keeps it paused (a toggle would resume)
    assert driver.status().state is DeviceState.PAUSED
    driver.resume()
    wait_for(lambda: driver.status().state is DeviceState.PRINTING, "the resume", driver)
    driver.resume()  # and a second resume keeps it printing
    assert driver.status().state in (DeviceState.PRINTING, DeviceState.FINISHED)


def test_it_cancels(driver: OctoPrintDriver, slow_gcode: Path) -> None:
    driver.start(job_name="farm-run-106.gcode", gcode_path=slow_gcode, expected_seconds=15)
    wait_for(lambda: driver.status().state is DeviceState.PRINTING, "printing", driver)
    driver.cancel()
    wait_for(lambda: driver.status().state is DeviceState.READY, "the cancel", driver)
    assert (driver.status().progress or 0) < 1


def test_a_finished_run_reads_finished_and_is_not_printed_again(
    driver: OctoPrintDriver, quick_gcode: Path
) -> None:
    driver.start(job_name="farm-run-107.gcode", gcode_path=quick_gcode, expected_seconds=1)
    wait_for(lambda: driver.status().state is DeviceState.FINISHED, "the end", driver)
    driver.start(job_name="farm-run-107.gcode", gcode_path=quick_gcode, expected_seconds=1)
    assert driver.status().state is DeviceState.FINISHED


def test_a_wrong_api_key_fails_permanently_with_a_clear_message(
    octoprint: OctoPrintServer, quick_gcode: Path
) -> None:
    bad = OctoPrintDriver(device_id="p", settings={"url": octoprint.url, "api_key": "WRONG-KEY"})
    with pytest.raises(PermanentDriverError, match="rejected the API key"):
        bad.start(job_name="farm-run-108.gcode", gcode_path=quick_gcode, expected_seconds=1)
    status = bad.status()
    # Offline, not error: we cannot see the printer, and it may well be printing.
    assert status.state is DeviceState.OFFLINE
    assert status.message.startswith("wrong API key: ")


def test_a_server_that_is_down_fails_transiently(quick_gcode: Path) -> None:
    port = octoprint_server.free_port()  # nothing listens there
    down = OctoPrintDriver(
        device_id="p", settings={"url": f"http://127.0.0.1:{port}", "api_key": "K"}
    )
    status = down.status()
    assert status.state is DeviceState.OFFLINE
    assert status.message.startswith("unreachable: cannot connect")
    with pytest.raises(TransientDriverError, match="unreachable"):
        down.start(job_name="farm-run-109.gcode", gcode_path=quick_gcode, expected_seconds=1)


def test_octorest_upload_alone_never_starts_a_print(
    octoprint: OctoPrintServer, quick_gcode: Path
) -> None:
    """Why the driver goes around octorest for uploads: its select/print flags are lost."""
    client = OctoRest(url=octoprint.url, apikey=octoprint.api_key)
    answer = client.upload(str(quick_gcode), select=True, print=True)
    assert answer["effectivePrint"] is False and answer["effectiveSelect"] is False


class _PrefixProxy(http.server.BaseHTTPRequestHandler):
    """A reverse proxy serving OctoPrint under /octoprint/mk4 (as nginx would)."""

    target = ""
    prefix = "/octoprint/mk4"

    def _forward(self) -> None:
        if not self.path.startswith(self.prefix + "/"):
            self.send_error(404, "outside the proxied prefix")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        r = requests.request(
            self.command,
            self.target + self.path[len(self.prefix) :],
            headers=headers,
            data=body,
            timeout=10,
        )
        self.send_response(r.status_code)
        for k, v in r.headers.items():
            if k.lower() not in (
                "transfer-encoding",
                "content-encoding",
                "content-length",
                "connection",
            ):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, *args: Any) -> None:
        pass


def test_it_works_behind_a_reverse_proxy_path_prefix(
    octoprint: OctoPrintServer, quick_gcode: Path
) -> None:
    handler = type("Proxy", (_PrefixProxy,), {"target": octoprint.url})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}/octoprint/mk4"
        d = OctoPrintDriver(device_id="p", settings={"url": url, "api_key": octoprint.api_key})
        assert d.version()["server"].startswith("1.")
        wait_for(lambda: d.status().state in (DeviceState.READY, DeviceState.FINISHED), "idle", d)
        d.start(job_name="farm-run-110.gcode", gcode_path=quick_gcode, expected_seconds=1)
        wait_for(lambda: d.status().job_name == "farm-run-110.gcode", "the print", d)
        wait_for(lambda: d.status().state is DeviceState.FINISHED, "the end", d)
    finally:
        proxy.shutdown()
        proxy.server_close()
