"""A serial printer's connection settings, validated once (they come from a JSON field)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

DEFAULT_PAUSE = ("M400", "G91", "G1 Z10 F600", "G90")
DEFAULT_RESUME = ("G91", "G1 Z-10 F600", "G90")
DEFAULT_CANCEL = ("M104 S0", "M140 S0", "M107", "G91", "G1 Z10 F600", "G90", "M84")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class LinkSettings:
    port: str
    baud: int = 115200
    window: int | None = None  # lines in flight; None: 4 with ADVANCED_OK, else 1
    timeout_s: float = 5.0  # no answer with lines in flight for this long: probe with M105
    max_timeouts: int = 4  # that many unanswered probes in a row: the firmware is gone
    connect_timeout_s: float = 10.0
    temperature_interval_s: float = 5.0  # M155 auto-report interval, or M105 polling
    reconnect_interval_s: float = 2.0
    pause_gcode: tuple[str, ...] = DEFAULT_PAUSE  # park and wait
    resume_gcode: tuple[str, ...] = DEFAULT_RESUME
    cancel_gcode: tuple[str, ...] = DEFAULT_CANCEL  # stop: heaters off, lift, motors off

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LinkSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise SettingsError(f"unknown serial settings: {', '.join(sorted(unknown))}")
        if not raw.get("port"):
            raise SettingsError("a serial printer needs a port, e.g. /dev/ttyUSB0")
        values: dict[str, Any] = {"port": str(raw["port"])}
        try:
            for name in ("baud", "max_timeouts"):
                if raw.get(name) is not None:
                    values[name] = int(raw[name])
            if raw.get("window") not in (None, ""):
                values["window"] = int(raw["window"])
            for name in (
                "timeout_s",
                "connect_timeout_s",
                "temperature_interval_s",
                "reconnect_interval_s",
            ):
                if raw.get(name) is not None:
                    values[name] = float(raw[name])
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"bad serial setting: {exc}") from None
        for name in ("pause_gcode", "resume_gcode", "cancel_gcode"):
            if raw.get(name) is not None:
                script = raw[name]
                lines = script.splitlines() if isinstance(script, str) else list(script)
                values[name] = tuple(line.strip() for line in lines if line.strip())
        if values.get("baud", 115200) <= 0 or values.get("window", 1) < 1:
            raise SettingsError("baud and window must be positive")
        return cls(**values)
