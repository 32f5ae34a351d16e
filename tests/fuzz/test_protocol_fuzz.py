"""Fuzzing the serial protocol's parsers (printers.protocol, read-only here): whatever a
firmware or a noisy line sends, the host reads a Response, never an exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from printers.protocol.firmware import parse_capability_report
from printers.protocol.lines import checksum, frame, parse_program, strip_command, unframe
from printers.protocol.responses import Response, parse_response, parse_temperatures
from tests.fuzz.strategies import FUZZ, gcode_line, numbers

PREFIXES = [
    "ok", "ok N", "ok P", "ok B", "Resend:", "rs N", "Error:", "!!", "echo:busy:", "busy:",
    "echo:", "start", "T:", "T0:", "B:", "Cap:", "FIRMWARE_NAME:", "", " ", "ok T:",
]  # fmt: skip


@st.composite
def firmware_line(draw: st.DrawFn) -> str:
    """A line as a firmware might send it, or as line noise would mangle it."""
    prefix = draw(st.sampled_from(PREFIXES))
    tail = draw(
        st.lists(
            st.one_of(
                st.text(max_size=12),
                numbers,
                st.tuples(st.sampled_from(["T", "T1", "B", "C", "P", "A", "@", "N", "P", "B"]),
                          st.sampled_from([":", ": ", ""]), numbers,
                          st.sampled_from(["", " /", "/"]), numbers).map("".join),
            ),
            max_size=6,
        )
    )  # fmt: skip
    return prefix + " ".join(tail)


@FUZZ
@given(st.one_of(firmware_line(), st.text(max_size=80)))
def test_any_line_from_the_firmware_is_read_as_a_response(line: str) -> None:
    response: Response = parse_response(line)
    assert response is not None


@FUZZ
@given(st.text(max_size=120))
def test_any_temperature_report_is_read(text: str) -> None:
    for actual, target in parse_temperatures(text).values():
        assert isinstance(actual, float) and (target is None or isinstance(target, float))


@FUZZ
@given(st.lists(st.one_of(firmware_line(), st.text(max_size=40)), max_size=20))
def test_any_capability_report_is_read(lines: list[str]) -> None:
    info = parse_capability_report(lines)
    assert isinstance(info.advanced_ok, bool) and isinstance(info.is_marlin, bool)


@FUZZ
@given(st.integers(0, 10**9), st.text(max_size=60))
def test_a_framed_line_unframes_to_itself(number: int, command: str) -> None:
    command = strip_command(command.replace("*", "").splitlines()[0] if command else "")
    wire = frame(number, command).decode("ascii")
    got_number, got_command, valid = unframe(wire)
    assert valid and got_number == number
    assert got_command == command.encode("ascii", "replace").decode().strip()


@FUZZ
@given(st.text(max_size=80))
def test_any_received_line_unframes_or_is_invalid(raw: str) -> None:
    number, command, valid = unframe(raw)
    assert number is None or isinstance(number, int)
    assert isinstance(command, str) and isinstance(valid, bool)
    assert checksum(raw) >= 0


@FUZZ
@given(st.lists(st.one_of(gcode_line(), st.text(max_size=30)), max_size=40))
def test_any_gcode_text_becomes_a_program_with_monotonic_progress(lines: list[str]) -> None:
    program = parse_program("\n".join(lines))
    assert len(program.commands) == len(program.byte_ends)
    assert list(program.byte_ends) == sorted(program.byte_ends)
    for done in range(len(program.commands) + 1):
        assert 0.0 <= program.progress(done) <= 1.0
