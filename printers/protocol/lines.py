"""Framing G-code commands for the wire: comments stripped, line numbers and checksums added."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import xor
from pathlib import Path


def checksum(payload: str) -> int:
    """Marlin's checksum: the XOR of every byte before the `*`."""
    return reduce(xor, payload.encode("ascii", "replace"), 0)


def frame(number: int, command: str) -> bytes:
    """`N<number> <command>*<checksum>\\n`, the form Marlin verifies and can ask to resend."""
    payload = f"N{number} {command}"
    return f"{payload}*{checksum(payload)}\n".encode("ascii", "replace")


def unframe(raw: str) -> tuple[int | None, str, bool]:
    """What a firmware sees in one received line: (line number, command, checksum ok).

    A line without `N` has no number and needs no checksum (the host's unnumbered probes).
    """
    text = raw.strip()
    if not text.startswith("N"):
        return None, text, True
    body, star, given = text.rpartition("*")
    if not star:
        return None, text, False
    number_text, _, command = body.partition(" ")
    try:
        number = int(number_text[1:])
        valid = int(given) == checksum(body)
    except ValueError:
        return None, text, False
    return number, command.strip(), valid


def strip_command(line: str) -> str:
    """The command on one G-code line without its comment or padding; "" when nothing is left."""
    cut = line.find(";")
    if cut >= 0:
        line = line[:cut]
    return line.strip()


@dataclass(frozen=True)
class GcodeProgram:
    """The commands of a G-code file and, per command, the file bytes up to and including it.

    Progress is reported by bytes, as OctoPrint does, so comment-heavy sections do not jump.
    """

    commands: tuple[str, ...]
    byte_ends: tuple[int, ...]
    total_bytes: int

    def progress(self, commands_done: int) -> float:
        if not self.commands or commands_done <= 0:
            return 0.0
        done = min(commands_done, len(self.commands))
        return self.byte_ends[done - 1] / max(self.total_bytes, 1)


def parse_program(text: str) -> GcodeProgram:
    commands: list[str] = []
    ends: list[int] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        offset += len(line.encode("utf-8", "replace"))
        command = strip_command(line)
        if command:
            commands.append(command)
            ends.append(offset)
    return GcodeProgram(tuple(commands), tuple(ends), offset)


def load_program(path: Path) -> GcodeProgram:
    return parse_program(path.read_text(encoding="utf-8", errors="replace"))
