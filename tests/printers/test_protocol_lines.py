from __future__ import annotations

import pytest

from printers.protocol.lines import checksum, frame, parse_program, strip_command, unframe


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("N0 M110 N0", 125),  # the classic first line every host sends
        ("N1 G28", 18),
        ("", 0),
    ],
)
def test_checksum_is_the_xor_of_the_bytes(payload: str, expected: int) -> None:
    assert checksum(payload) == expected


def test_it_frames_a_line_with_number_and_checksum() -> None:
    assert frame(0, "M110 N0") == b"N0 M110 N0*125\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("N0 M110 N0*125", (0, "M110 N0", True)),
        ("N0 M110 N0*124", (0, "M110 N0", False)),
        ("M105", (None, "M105", True)),
        ("N7 G28", (None, "N7 G28", False)),  # numbered without checksum
        ("Nx G28*3", (None, "Nx G28*3", False)),
    ],
)
def test_a_firmware_unframes_what_it_receives(raw: str, expected: tuple) -> None:
    assert unframe(raw) == expected


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("G1 X10 Y10 ; move", "G1 X10 Y10"),
        ("; only a comment", ""),
        ("   M104 S200   \n", "M104 S200"),
        ("", ""),
    ],
)
def test_it_strips_comments_and_padding(line: str, command: str) -> None:
    assert strip_command(line) == command


def test_a_program_keeps_commands_and_reports_progress_by_bytes() -> None:
    program = parse_program("; header comment that is long\nG28\nG1 X1\n")
    assert program.commands == ("G28", "G1 X1")
    assert program.progress(0) == 0.0
    assert program.progress(1) == pytest.approx(34 / 40)
    assert program.progress(2) == 1.0
