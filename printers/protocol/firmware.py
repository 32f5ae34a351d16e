"""The firmware's capability report (M115): its name and the `Cap:` flags."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_FIELD = re.compile(r"([A-Z][A-Z_]+):(.*?)(?=\s+[A-Z][A-Z_]+:|$)")


@dataclass(frozen=True)
class FirmwareInfo:
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    capabilities: dict[str, bool] = field(default_factory=dict)

    @property
    def autoreport_temp(self) -> bool:
        return self.capabilities.get("AUTOREPORT_TEMP", False)

    @property
    def advanced_ok(self) -> bool:
        return self.capabilities.get("ADVANCED_OK", False)

    @property
    def is_marlin(self) -> bool:
        return "marlin" in self.name.lower()


def parse_capability_report(lines: Iterable[str]) -> FirmwareInfo:
    """Read the lines that answered M115 (`FIRMWARE_NAME:... ` then `Cap:NAME:0|1` lines)."""
    name = ""
    fields: dict[str, str] = {}
    caps: dict[str, bool] = {}
    for raw in lines:
        line = raw.strip()
        if line.startswith("Cap:"):
            cap, _, value = line[4:].partition(":")
            caps[cap.strip().upper()] = value.strip() == "1"
        elif "FIRMWARE_NAME:" in line:
            start = line.index("FIRMWARE_NAME:")
            fields.update({key: value.strip() for key, value in _FIELD.findall(line[start:])})
            name = fields.get("FIRMWARE_NAME", "")
    return FirmwareInfo(name=name, fields=fields, capabilities=caps)
