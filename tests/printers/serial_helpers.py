"""Shared set-up for serial tests: simulated boards on ptys, and a host driven step by step."""

from __future__ import annotations

import time
from collections.abc import Callable

from printers.firmware_sim.model import MarlinModel
from printers.protocol.lines import GcodeProgram, parse_program
from printers.serialhost.host import SerialHost

# A hang guard, not a timing assertion: a healthy run of these tests takes a second or two.
HANG_GUARD_S = 30.0


def run_until(host: SerialHost, done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        host.run_once()


def program(lines: int = 300) -> GcodeProgram:
    body = [
        f"G1 X{i % 200}.{i % 10} Y{(i * 7) % 200}.5 E{i * 0.01:.4f} ; move {i}"
        for i in range(lines)
    ]
    return parse_program("; a test print\nG28\n" + "\n".join(body) + "\n")


def printed(model: MarlinModel) -> list[str]:
    """The file commands the firmware accepted, in order (the handshake lines left out)."""
    return [command for _, command in model.executed if command.startswith(("G1", "G28"))]


def accepted_numbers_are_consecutive(model: MarlinModel) -> bool:
    """Since the last M110 (a board's boot message may restart the handshake once)."""
    last_m110 = max(i for i, (_, c) in enumerate(model.executed) if c.startswith("M110"))
    numbers = [n for n, _ in model.executed[last_m110:]]
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def require_prusaslicer(executable: str | None) -> None:
    """Skip without PrusaSlicer locally; with CI=true that is a failure (tests/conftest.py)."""
    import pytest

    if executable is None:
        pytest.skip("PrusaSlicer is not installed (apt-get install prusa-slicer)")
