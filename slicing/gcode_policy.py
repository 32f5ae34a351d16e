"""Which commands a print job's G-code may not send to a printer, and why.

A print file moves, heats and extrudes. It has no business changing the printer itself: its
calibration, its stored settings, its firmware, its safety limits, or files on its SD card.
Issue 10: an uploaded file with M502, M500, M997, M303 and M92 was sent to a printer and
printed to DONE. Such a file is refused when it is prepared, with every offending line shown;
an operator who means to change a printer does it on the printer, not through the job queue.

The commands are matched as Marlin's parser reads a line: optional spaces and `N<line>`, the
letter (any case), optional spaces, the number with any leading zeros (`M0500` is M500) and
an optional `.subcode`; a number that goes on (`M5000`) is another command. Comments (after `;`)
are not sent and not matched. Klipper's extended commands are matched by their first word.
Every line end that some host splits a file at counts (str.splitlines' set, not only CR/LF).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from slicing.errors import GcodePolicyError

SHOWN = 10  # lines named in the message; the count says how many more there are
BATCH = 1 << 22  # characters read at a time (lines are never split between batches)


@dataclass(frozen=True)
class Rule:
    command: str  # "M500", or a Klipper command's name
    reason: str  # why a print job may not send it, for the person who uploaded the file


# Marlin's numbering (marlinfw.org/meta/gcode); RepRapFirmware and Prusa's firmware agree on
# the ones that matter here. Settings a file may legitimately tune for its own print and that
# last only until the printer restarts are allowed: M201-M205 (motion limits, what slicers
# write), M220/M221 (speed, flow), M900 (linear advance), M593 (input shaping), M104-M190
# (temperatures, checked against the material by slicing.analysis), G29 (bed levelling),
# M503 (only reports the settings).
RULES: tuple[Rule, ...] = (
    Rule("M500", "writes the printer's EEPROM: any setting the file changed would stay"),
    Rule("M501", "reloads the settings stored in EEPROM, replacing the printer's running ones"),
    Rule("M502", "resets every setting to the firmware's defaults, losing the calibration"),
    Rule("M997", "starts a firmware update"),
    Rule("M112", "emergency stop: the firmware halts and the printer needs a reset"),
    Rule("M999", "clears an error stop (thermal runaway, endstop) that a person must look at"),
    Rule("M92", "changes the steps per mm: every move and extrusion would be the wrong size"),
    Rule("M350", "changes the microstepping, and with it the steps per mm"),
    Rule("M351", "switches the microstepping pins, and with them the steps per mm"),
    Rule("M303", "runs a PID autotune: the heater cycles unattended and its tuning may change"),
    Rule("M301", "sets the hotend's PID values: bad ones overshoot or trip thermal runaway"),
    Rule("M304", "sets the bed's PID values: bad ones overshoot or trip thermal runaway"),
    Rule("M306", "sets or autotunes the hotend's heater model (MPC)"),
    Rule("M302", "allows cold extrusion: the extruder would grind unmelted filament"),
    Rule("M211", "switches the software endstops: moves could run into the frame"),
    Rule("M121", "disables the endstops: homing and moves could run into the frame"),
    Rule("M206", "shifts the home offsets: moves leave the area the file was checked for"),
    Rule("M428", "sets the home offsets from the current position"),
    Rule("M851", "changes the Z-probe offset: the nozzle could be driven into the bed"),
    Rule("M665", "changes a delta printer's geometry"),
    Rule("M666", "changes the endstop adjustments"),
    Rule("M906", "changes the stepper motor current: too much overheats drivers and motors"),
    Rule("M907", "changes the stepper motor current (digipot)"),
    Rule("M908", "changes the stepper motor current (digipot)"),
    Rule("M909", "changes the stepper motor current (DAC)"),
    Rule("M910", "writes the motor current DAC's EEPROM"),
    Rule("M914", "changes the sensorless-homing sensitivity: homing could crash the axes"),
    Rule("M915", "drives the Z axis into its end at raised current (TMC Z calibration)"),
    Rule("M42", "sets an output pin directly (a heater, a fan), bypassing the firmware's checks"),
    Rule("M43", "pin debugging: it can toggle output pins"),
    Rule("M260", "sends raw bytes on the printer's I2C bus"),
    Rule("M575", "changes the serial baud rate: the farm would lose the printer mid-print"),
    Rule("M81", "switches the power supply off: the farm would lose the printer"),
    Rule("M28", "writes the lines that follow to a file on the printer's SD card"),
    Rule("M29", "ends writing a file to the printer's SD card"),
    Rule("M30", "deletes a file on the printer's SD card"),
    Rule("M928", "starts logging to a file on the printer's SD card"),
    Rule("M23", "selects another file on the printer's SD card to print"),
    Rule("M24", "starts printing the file selected on the printer's SD card"),
    Rule("M32", "selects and starts another file on the printer's SD card"),
    Rule("SAVE_CONFIG", "Klipper: writes the printer's configuration file and restarts it"),
    Rule("FIRMWARE_RESTART", "Klipper: restarts the firmware mid-print"),
    Rule("RESTART", "Klipper: restarts the printer's host software mid-print"),
    Rule("PID_CALIBRATE", "Klipper: runs a PID autotune"),
    Rule("SET_KINEMATIC_POSITION", "Klipper: sets the position without homing (crashes)"),
)
BY_COMMAND = {rule.command: rule for rule in RULES}

_NUMBERED = sorted(
    (r.command[1:] for r in RULES if r.command[0] == "M" and r.command[1:].isdigit()),
    key=len,
    reverse=True,
)
_WORDS = sorted((r.command for r in RULES if not r.command[1:].isdigit()), key=len, reverse=True)
# A line starts after any character that Python's str.splitlines ends a line at, not only CR
# and LF: a host that splits a file that way would send what follows as a command of its own.
_LINE_START = r"(?:^|(?<=[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]))"
_PATTERN = re.compile(
    _LINE_START + r"[ \t]*(?:N-?\d+[ \t]*)?"
    rf"(?:M[ \t]*0*(?P<number>{'|'.join(_NUMBERED)})(?![0-9])"
    rf"|(?P<word>{'|'.join(_WORDS)})(?![A-Z0-9_]))",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Violation:
    line: int  # 1-based
    command: str  # as in RULES ("M500")
    text: str  # the line as written, shortened

    @property
    def reason(self) -> str:
        return BY_COMMAND[self.command].reason

    def describe(self) -> str:
        return f"line {self.line}: {self.command} ({self.reason})"


def violations(lines: Iterable[str]) -> Iterator[Violation]:
    """Every line of `lines` (with or without newlines) that sends a forbidden command."""
    for number, line in enumerate(lines, start=1):
        for match in _PATTERN.finditer(line):
            yield _violation(match, line[match.start() :], number)


def file_violations(path: Path) -> list[Violation]:
    """Every forbidden command in the file at `path`, read in batches of whole lines; CR,
    LF and CRLF all end a line, as they do for the printer."""
    found: list[Violation] = []
    line = 1
    with path.open("r", encoding="utf-8", errors="replace", newline=None) as handle:
        while batch := handle.readlines(BATCH):
            text = "".join(batch)
            start, before = 0, line
            for match in _PATTERN.finditer(text):
                before += text.count("\n", start, match.start())
                start = match.start()
                end = text.find("\n", start)
                found.append(_violation(match, text[start : end if end >= 0 else None], before))
            line += len(batch)
    return found


def check_gcode_policy(path: Path, *, name: str | None = None) -> None:
    """Refuse (GcodePolicyError) a G-code that sends any command of RULES, naming the lines."""
    found = file_violations(path)
    if found:
        raise GcodePolicyError(refusal(found, name or path.name))


def refusal(found: list[Violation], name: str) -> str:
    shown = "; ".join(v.describe() for v in found[:SHOWN])
    more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return (
        f"“{name}” contains commands a print job may not send, as they change the printer "
        f"itself: {shown}{more}. Remove them and upload the file again; an operator makes "
        "such changes on the printer."
    )


def _violation(match: re.Match[str], line: str, number: int) -> Violation:
    if match.group("number") is not None:
        command = f"M{int(match.group('number'))}"
    else:
        command = match.group("word").upper()
    return Violation(number, command, line.strip()[:80])
