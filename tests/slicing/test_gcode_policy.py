"""The G-code policy: commands that change the printer itself are refused, with their lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from slicing import prusaslicer
from slicing.builtin import slice_to_gcode
from slicing.errors import GcodePolicyError
from slicing.gcode_policy import RULES, check_gcode_policy, file_violations, violations
from slicing.orient import place_on_bed
from slicing.prepare import prepare
from slicing.profile import PrintProfile
from slicing.settings import SliceSettings

SETTINGS = SliceSettings()

# From issue 10: this went to a printer and printed to DONE.
HOSTILE = """\
G28
M502 ; factory reset
M92 E9000
M303 E0 S250 C8 U1
M500
G1 X10 Y10 E5 F1200
M997
"""


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("M500", "M500"),
        ("m500", "M500"),
        ("  M500 ; save", "M500"),
        ("N12 M500*45", "M500"),
        ("M 500", "M500"),
        ("M0500", "M500"),
        ("M92 X80 Y80 Z400 E93", "M92"),
        ("M303 E0 S210 C8", "M303"),
        ("M997", "M997"),
        ("M502", "M502"),
        ("M92.1 E100", "M92"),
        ("save_config", "SAVE_CONFIG"),
        ("M81", "M81"),
    ],
)
def test_it_finds_a_forbidden_command_as_the_firmware_reads_it(line: str, command: str) -> None:
    found = list(violations(["G28", line]))
    assert [(v.line, v.command) for v in found] == [(2, command)]


@pytest.mark.parametrize(
    "line",
    [
        "; M500 in a comment",
        "G1 X10 ; then M500",
        "M5000",  # another command
        "M9",
        "M503",  # only reports the settings
        "M201 X1000 Y1000",
        "M204 P1250",
        "M205 X8 Y8",
        "M900 K0.05",
        "M220 S100",
        "M104 S210",
        "G29",
        "M84",
        "SAVE_CONFIGURATION_LATER",
        "T0",
    ],
)
def test_it_lets_ordinary_print_commands_through(line: str) -> None:
    assert list(violations([line])) == []


def test_every_rule_has_a_reason_and_a_command_of_its_own() -> None:
    commands = [rule.command for rule in RULES]
    assert len(commands) == len(set(commands))
    assert all(rule.reason for rule in RULES)
    for command in ("M500", "M501", "M502", "M997", "M92", "M303"):
        assert command in commands


def test_it_refuses_a_file_naming_every_line(tmp_path: Path) -> None:
    path = tmp_path / "3f9e.gcode"
    path.write_text(HOSTILE)
    with pytest.raises(GcodePolicyError) as refused:
        check_gcode_policy(path, name="bracket.gcode")
    message = str(refused.value)
    assert message.startswith("“bracket.gcode” contains commands a print job may not send")
    assert "line 2: M502 (resets every setting to the firmware's defaults" in message
    assert "line 3: M92 (changes the steps per mm" in message
    assert "line 4: M303 (runs a PID autotune" in message
    assert "line 5: M500 (writes the printer's EEPROM" in message
    assert "line 7: M997 (starts a firmware update)" in message
    assert "3f9e" not in message


def test_it_counts_lines_across_batches_and_line_endings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("slicing.gcode_policy.BATCH", 64)
    path = tmp_path / "long.gcode"
    lines = [f"G1 X{i % 100} E0.1" for i in range(1, 400)]
    lines[99] = "M500"
    lines[299] = "M502"
    path.write_bytes("\r\n".join(lines[:200]).encode() + b"\r" + "\n".join(lines[200:]).encode())
    assert [(v.line, v.command) for v in file_violations(path)] == [(100, "M500"), (300, "M502")]


def test_it_shows_ten_lines_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "many.gcode"
    path.write_text("M500\n" * 25)
    with pytest.raises(GcodePolicyError, match="line 10: M500 .*; and 15 more"):
        check_gcode_policy(path)


def test_prepare_refuses_such_a_gcode_before_analysing_it(tmp_path: Path) -> None:
    path = tmp_path / "upload.gcode"
    path.write_text(HOSTILE)
    with pytest.raises(GcodePolicyError, match="“part.gcode” .*line 5: M500"):
        prepare(path, "gcode", PrintProfile(), name="part.gcode")


def _placed_box() -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(20.0, 16.0, 6.0))
    place_on_bed(box, SETTINGS.bed_mm)
    return box


def test_our_own_slicers_output_passes(tmp_path: Path) -> None:
    out = tmp_path / "ours.gcode"
    slice_to_gcode(_placed_box(), SETTINGS, out)
    assert file_violations(out) == []


def test_prusaslicers_output_passes(tmp_path: Path) -> None:
    if prusaslicer.executable() is None:
        pytest.skip("PrusaSlicer is not installed")
    out = tmp_path / "prusa.gcode"
    prusaslicer.slice_with_prusaslicer(_placed_box(), SETTINGS, out, work_dir=tmp_path)
    assert file_violations(out) == []
