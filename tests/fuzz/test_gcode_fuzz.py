"""Fuzzing the G-code reader, analysis and policy: any text is analysed or refused with the
package's own error, never another exception."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from slicing.analysis import analyse_file, analyse_lines, check_for_printer
from slicing.errors import SlicingError
from slicing.gcode_parse import parse_duration, parse_gcode
from slicing.gcode_policy import file_violations, violations
from tests.fuzz.strategies import FUZZ, gcode_line, gcode_lines

SEPARATORS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"]


@FUZZ
@given(gcode_lines)
def test_parsing_any_gcode_gives_moves_of_one_length(lines: list[str]) -> None:
    moves, _meta = parse_gcode(lines)
    n = len(moves.x)
    assert all(len(a) == n for a in (moves.x0, moves.y, moves.z, moves.de, moves.feed))
    assert len(moves.line_no) == n


@FUZZ
@given(gcode_lines, st.sampled_from(["PLA", "PETG", "unobtainium"]))
def test_analysing_any_gcode_answers_or_refuses(lines: list[str], material: str) -> None:
    with contextlib.suppress(SlicingError):
        analysis = analyse_lines(lines)
        check_for_printer(
            analysis, build_mm=(250.0, 210.0, 220.0), nozzle_mm=0.4, material=material
        )


@FUZZ
@given(st.binary(max_size=2000))
def test_analysing_any_bytes_as_a_file_answers_or_refuses(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.gcode"
        path.write_bytes(data)
        with contextlib.suppress(SlicingError):
            analyse_file(path)
        assert all(v.line >= 1 for v in file_violations(path))


@FUZZ
@given(st.lists(st.one_of(gcode_line(), st.sampled_from(SEPARATORS)), max_size=40))
def test_the_policy_finds_every_command_a_host_splitting_the_file_would_send(
    parts: list[str],
) -> None:
    text = "".join(parts)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.gcode"
        path.write_bytes(text.encode("utf-8", "replace"))
        in_file = sorted(v.command for v in file_violations(path))
    # printers.protocol.lines splits with str.splitlines, the widest set of line ends
    sent = text.encode("utf-8", "replace").decode("utf-8").splitlines()
    assert in_file == sorted(v.command for v in violations(sent))


@FUZZ
@given(st.text(max_size=60))
def test_any_duration_text_is_read_as_seconds(text: str) -> None:
    assert parse_duration(text) >= 0
