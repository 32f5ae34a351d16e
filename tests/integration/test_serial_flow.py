"""A USB printer in the whole farm: a real worker dispatches a G-code job to a serial printer,
the real fleet link's serial host streams it to a simulated Marlin on a pty, and the run ends
waiting for the bed to be cleared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from farm.models import PrintRun
from farm.services.submission import job_submit
from farm.statuses import RunStatus
from printers.firmware_sim.gcode_gen import realistic_gcode
from printers.firmware_sim.model import Faults, MarlinModel
from printers.firmware_sim.pty_runner import PtyFirmware
from tests.integration.processes import farm_processes, purge_queues, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[PtyFirmware, MarlinModel, str]]:
    firmware = PtyFirmware(baud=250_000, ack_delay_s=0.0001, link_dir=tmp_path).start()
    model = MarlinModel(faults=Faults(checksum_error_every=37))
    path = firmware.add_port("ttyUSB0", model)
    yield firmware, model, path
    firmware.stop()


def test_a_serial_printer_prints_a_job_through_the_fleet_link(
    alice: Any, pla: Any, make_printer: Any, board: Any, tmp_path: Path
) -> None:
    _, model, port = board
    make_printer(
        "ender-1",
        connection_kind="serial",
        connection_settings={"port": port, "timeout_s": 0.3, "reconnect_interval_s": 0.1},
        state="offline",
    )
    gcode = realistic_gcode(300).encode()
    purge_queues()
    with farm_processes(tmp_path, FARM_POLL_SECONDS="0.3", FARM_SCHEDULE_SECONDS="2"):
        job = job_submit(
            owner=alice,
            upload=SimpleUploadedFile("bracket.gcode", gcode),
            material=pla,
            quantity=1,
        )

        def printed() -> bool:
            return PrintRun.objects.filter(job=job, status=RunStatus.AWAITING_REMOVAL).exists()

        wait_for(printed, timeout=120, what="the serial print to finish", logs=tmp_path)
    moves = [c for _, c in model.executed if c.startswith(("G0", "G1"))]
    sent = [line for line in gcode.decode().splitlines() if line.startswith(("G0", "G1"))]
    assert len(moves) == len(sent)  # every line once, despite the checksum errors
