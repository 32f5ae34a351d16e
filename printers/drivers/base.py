"""The one interface every printer driver implements, its value types and its two errors.

A transient error (offline, busy, timeout) is retried by dispatch; a permanent one (bad API key,
file refused, firmware halted) fails the run at once with the driver's message.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from printers.commands import PrinterCommand
from printers.states import DeviceState


class DriverError(Exception):
    """A printer could not do what was asked. `permanent` says whether retrying can help."""

    permanent = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientDriverError(DriverError):
    permanent = False


class PermanentDriverError(DriverError):
    permanent = True


@dataclass(frozen=True)
class DeviceStatus:
    """What a printer says about itself at one moment."""

    state: DeviceState
    job_name: str = ""  # the name of the file being (or last) printed
    progress: float | None = None  # 0..1
    seconds_left: float | None = None
    temperatures: dict[str, float] = field(default_factory=dict)
    message: str = ""  # the reason behind ERROR or OFFLINE, for people


@dataclass(frozen=True)
class Capabilities:
    """What the device reported it can do (M115, OctoPrint profile, simulator settings)."""

    firmware: str = ""
    build_volume_mm: tuple[float, float, float] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class Driver(abc.ABC):
    """Talks to one printer. Methods are short calls: nothing here lives as long as a print."""

    kind: str = ""

    def __init__(self, *, device_id: str, settings: dict[str, Any]) -> None:
        self.device_id = device_id
        self.settings = settings

    @abc.abstractmethod
    def status(self) -> DeviceStatus: ...

    @abc.abstractmethod
    def start(self, *, job_name: str, gcode_path: Path, expected_seconds: float) -> None:
        """Upload (or hand over) the G-code and start printing it.

        Idempotent: when the device is already printing `job_name`, do nothing. The job name is
        the run's name, so a repeated dispatch of the same run never prints twice.
        `expected_seconds` is the estimate; only simulated devices use it.
        """

    @abc.abstractmethod
    def pause(self) -> None: ...

    @abc.abstractmethod
    def resume(self) -> None: ...

    @abc.abstractmethod
    def cancel(self) -> None: ...

    def clear_error(self) -> None:  # noqa: B027  (optional: most drivers need nothing)
        """An operator fixed the fault and cleared the bed: let the device print again."""

    def connect(self) -> None:  # noqa: B027  (optional: only hosts like OctoPrint need it)
        """Ask the device's host to (re)connect to the printer; nothing for a direct link."""

    def emergency_stop(self) -> None:
        """M112 at once (the firmware halts); only drivers that stream to the firmware can."""
        raise PermanentDriverError(f"{self.kind} printers have no emergency stop the farm sends")

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def run_command(self, command: PrinterCommand) -> None:
        """Pause, resume, cancel, clear an error or connect: the method for the command."""
        actions: dict[PrinterCommand, Callable[[], None]] = {
            PrinterCommand.PAUSE: self.pause,
            PrinterCommand.RESUME: self.resume,
            PrinterCommand.CANCEL: self.cancel,
            PrinterCommand.CLEAR_ERROR: self.clear_error,
            PrinterCommand.CONNECT: self.connect,
            PrinterCommand.EMERGENCY_STOP: self.emergency_stop,
        }
        actions[command]()


_REGISTRY: dict[str, type[Driver]] = {}


def register(cls: type[Driver]) -> type[Driver]:
    _REGISTRY[cls.kind] = cls
    return cls


BUILTIN_DRIVERS = (
    "printers.drivers.simulated",
    "printers.drivers.octoprint",
    "printers.drivers.serial",
)


def _load_builtin_drivers() -> None:
    # Imported on first use, not at import time: the drivers import Django models and
    # octorest/pyserial, which the pure modules that import this one must not need.
    for module in BUILTIN_DRIVERS:
        importlib.import_module(module)


def driver_for(kind: str, *, device_id: str, settings: dict[str, Any]) -> Driver:
    """The driver for a connection kind ("simulated", "octoprint", "serial")."""
    _load_builtin_drivers()

    try:
        cls = _REGISTRY[kind]
    except KeyError:
        raise PermanentDriverError(f"unknown connection kind {kind!r}") from None
    return cls(device_id=device_id, settings=settings)


def driver_kinds() -> list[str]:
    _load_builtin_drivers()

    return sorted(_REGISTRY)
