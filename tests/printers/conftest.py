from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.firmware_sim.pty_runner import PtyFirmware


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[PtyFirmware]:
    """Simulated Marlin boards behind ptys, reached through stable symlinks in tmp_path.

    250000 baud with a tiny ack delay keeps the tests quick while still modelling the wire.
    """
    firmware = PtyFirmware(baud=250_000, ack_delay_s=0.0001, link_dir=tmp_path).start()
    yield firmware
    firmware.stop()
