"""Parsing one line the firmware sent into a typed response.

Marlin answers every accepted line with `ok` (with ADVANCED_OK: `ok N<line> P<planner free>
B<buffer free>`), asks for a line again with `Resend: <n>` (or `rs <n>`), keeps the host from
timing out with `echo:busy: processing`, and reports faults as `Error:...`. Only a few errors
are about the wire; a halted or stopped printer is a fault that needs a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Temperatures = dict[str, tuple[float, float | None]]  # sensor -> (actual, target)


@dataclass(frozen=True, slots=True)
class Ok:
    line: int | None = None
    planner_free: int | None = None
    buffer_free: int | None = None
    temperatures: Temperatures = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resend:
    line: int


@dataclass(frozen=True, slots=True)
class Busy:
    reason: str


@dataclass(frozen=True, slots=True)
class FirmwareError:
    text: str
    wire: bool  # about the transmission (checksum, line number): a resend follows
    halted: bool  # the firmware stopped; nothing more will print until a reset or M999


@dataclass(frozen=True, slots=True)
class TemperatureReport:
    temperatures: Temperatures


@dataclass(frozen=True, slots=True)
class Echo:
    text: str


@dataclass(frozen=True, slots=True)
class Started:
    """`start`: the firmware (re)booted, e.g. because opening the port reset the board."""


@dataclass(frozen=True, slots=True)
class Other:
    text: str


Response = Ok | Resend | Busy | FirmwareError | TemperatureReport | Echo | Started | Other

_TEMP = re.compile(r"\b(T\d*|B|C|P|A)\s*:\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(-?\d+(?:\.\d+)?))?")
_ADVANCED_OK = re.compile(r"\b([NPB])(\d+)\b")
_RESEND = re.compile(r"^(?:resend|rs)\s*:?\s*N?(\d+)", re.IGNORECASE)
_WIRE_ERRORS = ("checksum", "line number", "no line number", "format error", "missing checksum")
_HALT_WORDS = ("halted", "kill()", "stopped", "m999")
_SENSOR_NAMES = {"T": "tool0", "B": "bed", "C": "chamber", "P": "probe", "A": "ambient"}


def parse_temperatures(text: str) -> Temperatures:
    """`T:210.1 /210.0 B:60.0 /60.0 T0:210.1 /210.0 @:127` -> {"tool0": (210.1, 210.0), ...}.

    `T0` and a bare `T` name the same hot end; the numbered one wins when both are present.
    """
    found: Temperatures = {}
    numbered: set[str] = set()
    for name, actual, target in _TEMP.findall(text):
        key = _SENSOR_NAMES.get(name) or f"tool{name[1:]}"
        if name == "T" and key in numbered:
            continue
        if name.startswith("T") and len(name) > 1:
            numbered.add(key)
        found[key] = (float(actual), float(target) if target else None)
    return found


def parse_response(raw: str) -> Response:
    line = raw.strip()
    lower = line.lower()
    if lower.startswith("ok"):
        rest = line[2:]
        fields = {key: int(value) for key, value in _ADVANCED_OK.findall(rest.split("T:")[0])}
        return Ok(
            line=fields.get("N"),
            planner_free=fields.get("P"),
            buffer_free=fields.get("B"),
            temperatures=parse_temperatures(rest) if "T:" in rest else {},
        )
    resend = _RESEND.match(line)
    if resend:
        return Resend(int(resend.group(1)))
    if lower.startswith(("error:", "!!")):
        text = line.split(":", 1)[1].strip() if ":" in line else line[2:].strip()
        wire = any(word in text.lower() for word in _WIRE_ERRORS)
        halted = not wire and any(word in text.lower() for word in _HALT_WORDS)
        return FirmwareError(text=text, wire=wire, halted=halted or lower.startswith("!!"))
    if lower.startswith(("echo:busy:", "busy:")):
        return Busy(line.split("busy:", 1)[1].strip())
    if lower.startswith("echo:"):
        return Echo(line[5:].strip())
    if lower == "start":
        return Started()
    if line.startswith(("T:", "T0:", "B:")):
        return TemperatureReport(parse_temperatures(line))
    return Other(line)
