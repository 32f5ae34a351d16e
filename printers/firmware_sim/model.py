"""What Marlin answers to each received line, with injectable faults.

Follows Marlin 2.x `GCodeQueue`: a numbered line must be `last + 1` (M110 sets `last`), its
checksum must match, and a rejected line gets `Error:...`, `Resend: last+1` and `ok`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from printers.protocol.lines import unframe

_M110 = re.compile(r"^M110(?:\s+N(\d+))?")
_S_ARG = re.compile(r"\bS(\d+)")


@dataclass(frozen=True)
class Faults:
    """Faults to inject. Counts are of numbered lines received (resent ones count again)."""

    checksum_error_every: int = 0  # treat every n-th numbered line as corrupted on the wire
    drop_line_every: int = 0  # lose every n-th numbered line entirely (no answer at all)
    drop_ok_at: tuple[int, ...] = ()  # accept and run these line numbers, but lose their ok
    busy_every: int = 0  # answer `echo:busy: processing` before every n-th ok
    halt_after_line: int | None = None  # `Error:Printer halted` after accepting this line
    unplug_after_line: int | None = None  # the port disappears after accepting this line


@dataclass
class MarlinModel:
    advanced_ok: bool = True
    autoreport_temp: bool = True
    bufsize: int = 4
    faults: Faults = field(default_factory=Faults)
    last_line: int = 0
    received: int = 0
    executed: list[tuple[int, str]] = field(default_factory=list)  # accepted numbered lines
    halted: bool = False
    unplug_requested: bool = False
    autoreport_interval_s: int = 0
    hotend: tuple[float, float] = (24.0, 0.0)
    bed: tuple[float, float] = (23.0, 0.0)
    paused_for_user: bool = False

    def boot_lines(self) -> list[str]:
        return ["start", "echo:Marlin 2.1.2.1", "echo: Last Updated: 2023-09-30"]

    def temperature_report(self) -> str:
        (t, tt), (b, bt) = self.hotend, self.bed
        return f"T:{t:.2f} /{tt:.2f} B:{b:.2f} /{bt:.2f} @:0 B@:0"

    def receive(self, raw: str) -> list[str]:
        """The answers to one received line, in order (empty when halted or the line is lost)."""
        if self.halted:
            return []
        number, command, valid = unframe(raw)
        if not command and number is None:
            return []
        if number is not None:
            self.received += 1
            f = self.faults
            if f.drop_line_every and self.received % f.drop_line_every == 0:
                return []
            is_m110 = command.startswith("M110")
            if not is_m110 and number != self.last_line + 1:
                return self._reject("Line Number is not Last Line Number+1")
            if not valid or (
                f.checksum_error_every and self.received % f.checksum_error_every == 0
            ):
                return self._reject("checksum mismatch")
            self.last_line = number
            if is_m110:
                match = _M110.match(command)
                self.last_line = int(match.group(1)) if match and match.group(1) else number
            self.executed.append((number, command))
        answers = self._execute(command)
        if number is not None and number in self.faults.drop_ok_at:
            answers = [a for a in answers if not a.startswith("ok")]
        if number is not None and self.faults.halt_after_line == number:
            self.halted = True
            return ["Error:Printer halted. kill() called!"]
        if number is not None and self.faults.unplug_after_line == number:
            self.unplug_requested = True
        return answers

    def _reject(self, reason: str) -> list[str]:
        return [
            f"Error:{reason}, Last Line: {self.last_line}",
            f"Resend: {self.last_line + 1}",
            "ok",
        ]

    def _ok(self) -> str:
        if self.advanced_ok:
            # Commands are taken off the queue as fast as they arrive here (no motion model), so
            # the queue always has room: P is the planner's free blocks, B the command buffer's.
            return f"ok N{self.last_line} P15 B{self.bufsize - 1}"
        return "ok"

    def _execute(self, command: str) -> list[str]:
        word = command.split(" ", 1)[0].upper()
        answers: list[str] = []
        if self.faults.busy_every and self.received % self.faults.busy_every == 0:
            answers.append("echo:busy: processing")
        if word == "M115":
            answers += [
                "FIRMWARE_NAME:Marlin 2.1.2.1 (Sep 30 2023) SOURCE_CODE_URL:github.com/"
                "MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Farm Sim "
                "EXTRUDER_COUNT:1 UUID:00000000-0000-4000-8000-000000000000",
                f"Cap:AUTOREPORT_TEMP:{int(self.autoreport_temp)}",
                f"Cap:ADVANCED_OK:{int(self.advanced_ok)}",
                "Cap:EEPROM:1",
                "Cap:PAUSE_MESSAGES:1",
            ]
        elif word == "M105":
            return [*answers, f"ok {self.temperature_report()}"]
        elif word == "M155" and self.autoreport_temp:
            match = _S_ARG.search(command)
            self.autoreport_interval_s = int(match.group(1)) if match else 0
        elif word in ("M104", "M109"):
            match = _S_ARG.search(command)
            self.hotend = (self.hotend[0], float(match.group(1)) if match else 0.0)
            self.hotend = (self.hotend[1] or 24.0, self.hotend[1])
        elif word in ("M140", "M190"):
            match = _S_ARG.search(command)
            self.bed = (self.bed[0], float(match.group(1)) if match else 0.0)
            self.bed = (self.bed[1] or 23.0, self.bed[1])
        elif word == "M112":
            # Marlin's emergency parser: kill() at once; only a reset brings it back.
            self.halted = True
            return ["Error:Printer halted. kill() called!"]
        elif word == "M999":
            self.halted = False
        answers.append(self._ok())
        return answers
