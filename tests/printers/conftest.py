from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.firmware_sim.pty_runner import PtyFirmware
from tests.printers import octoprint_server
from tests.printers.octoprint_server import OctoPrintServer, OctoPrintUnavailable


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[PtyFirmware]:
    """Simulated Marlin boards behind ptys, reached through stable symlinks in tmp_path.

    250000 baud with a tiny ack delay keeps the tests quick while still modelling the wire.
    """
    firmware = PtyFirmware(baud=250_000, ack_delay_s=0.0001, link_dir=tmp_path).start()
    yield firmware
    firmware.stop()


@pytest.fixture(scope="session")
def octoprint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintServer]:
    """A real OctoPrint for the whole session (see octoprint_server.py); skips locally only
    when it cannot be installed, and with CI=true that skip is a failure (tests/conftest.py)."""
    try:
        server = octoprint_server.start(tmp_path_factory.mktemp("octoprint"))
    except OctoPrintUnavailable as exc:
        pytest.skip(f"OctoPrint cannot be installed here: {exc}")
    yield server
    server.stop()
