"""One emulated OctoPrint printer: connection, files, the job and its clock.

Like OctoPrint without autoconnect, a printer starts not connected ("Closed") until asked to
connect; connecting takes `connect_seconds` ("Connecting"), then it is "Operational"
(`connected=True` starts it connected, as OctoPrint with autoconnect). Uploaded files keep
their size and line count, not their bytes: a load test sends gigabytes to thousands of
printers. Every change of state calls `on_change` with OctoPrint's event name, which the
server pushes to the printer's sockets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Conflict(Exception):
    """What OctoPrint answers with 409: the printer is not in a state to do that."""


class Ended(StrEnum):
    """How the selected file's last print ended (NOT_YET while it runs or before it starts)."""

    NOT_YET = ""
    FINISHED = "finished"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FileInfo:
    size: int
    lines: int


class LineCounter:
    """Size and line count of a file fed in chunks, as it streams in (nothing is kept)."""

    def __init__(self) -> None:
        self.size = 0
        self.lines = 0
        self._open_line = False  # the last chunk ended inside a line

    def feed(self, chunk: bytes) -> None:
        if chunk:
            self.size += len(chunk)
            self.lines += chunk.count(b"\n")
            self._open_line = not chunk.endswith(b"\n")

    def info(self) -> FileInfo:
        return FileInfo(self.size, self.lines + (1 if self._open_line else 0))


def _no_listener(event: str) -> None:
    pass


@dataclass
class EmulatedPrinter:
    seconds_per_line: float = 0.05
    volume: tuple[float, float, float] = (250.0, 210.0, 220.0)
    connected: bool = False
    connect_seconds: float = 0.3
    connecting_until: float | None = None
    ever_connected: bool = False  # OctoPrint says "Closed" until its first connection
    port: str | None = None
    baudrate: int | None = None
    files: dict[str, FileInfo] = field(default_factory=dict)
    selected: str = ""
    started_at: float | None = None
    duration_s: float = 0.0
    paused_at: float | None = None
    paused_total_s: float = 0.0
    ended: Ended = Ended.NOT_YET
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_change: Callable[[str], None] = _no_listener

    def __post_init__(self) -> None:
        if self.connected:
            self.ever_connected, self.port, self.baudrate = True, "VIRTUAL", 250000

    def _elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        until = self.paused_at or now
        return max(0.0, until - self.started_at - self.paused_total_s)

    def _settle(self, now: float) -> None:
        if (
            self.started_at is not None
            and self.ended is Ended.NOT_YET
            and self._elapsed(now) >= self.duration_s
        ):
            self.ended = Ended.FINISHED

    def state_text(self, now: float) -> str:
        self._settle(now)
        if self.connecting_until is not None:
            if now < self.connecting_until:
                return "Connecting"
            self.connecting_until, self.connected, self.ever_connected = None, True, True
        if not self.connected:
            return "Offline"
        if self.started_at is None or self.ended is not Ended.NOT_YET:
            return "Operational"
        return "Paused" if self.paused_at is not None else "Printing"

    def job(self, now: float) -> dict[str, Any]:
        with self.lock:
            text = self.state_text(now)
            completion = None
            left = None
            if self.started_at is not None:
                done = 1.0 if self.ended is Ended.FINISHED else self._elapsed(now) / self.duration_s
                completion = 100.0 * min(done, 1.0)
                left = (
                    0
                    if self.ended is not Ended.NOT_YET
                    else round(self.duration_s - self._elapsed(now))
                )
            info = self.files.get(self.selected)
            size = info.size if info else 0
            return {
                "job": {
                    "file": {"name": self.selected or None, "origin": "local", "size": size},
                    "estimatedPrintTime": self.duration_s or None,
                },
                "progress": {
                    "completion": completion,
                    "filepos": int(size * (completion or 0) / 100) if completion else None,
                    "printTimeLeft": left,
                },
                "state": text,
            }

    def printing(self, now: float) -> bool:
        return self.state_text(now) in ("Printing", "Paused")

    def upload(
        self, name: str, data: FileInfo, *, select: bool, start: bool, now: float
    ) -> tuple[bool, bool]:
        with self.lock:
            busy = self.printing(now)
            if busy and name == self.selected:
                raise Conflict("Trying to overwrite file that is currently being printed")
            self.files[name] = data
            selected = select and not busy and self.state_text(now) == "Operational"
            if selected:
                self.selected = name
            started = start and selected
            if started:
                self._start(now)
        if selected:
            self.on_change("FileSelected")
        if started:
            self.on_change("PrintStarted")
        return selected, started

    def select(self, name: str, *, start: bool, now: float) -> None:
        with self.lock:
            if name not in self.files:
                raise KeyError(name)
            if self.printing(now) or self.state_text(now) != "Operational":
                raise Conflict("Printer is not operational or already printing")
            self.selected = name
            if start:
                self._start(now)
        self.on_change("PrintStarted" if start else "FileSelected")

    def _start(self, now: float, duration_s: float | None = None) -> None:
        lines = self.files[self.selected].lines
        self.started_at, self.paused_at, self.paused_total_s = now, None, 0.0
        self.duration_s = duration_s or max(0.5, lines * self.seconds_per_line)
        self.ended = Ended.NOT_YET

    def command(self, command: str, action: str, now: float) -> None:
        with self.lock:
            event = self._command(command, action, now)
        self.on_change(event)

    def _command(self, command: str, action: str, now: float) -> str:
        """A job command under the lock; OctoPrint's event name for what it did."""
        text = self.state_text(now)
        if command == "start":
            if text != "Operational" or not self.selected:
                raise Conflict("Printer is not operational or no file selected")
            self._start(now)
            return "PrintStarted"
        if command not in ("cancel", "pause"):
            raise ValueError(command)
        if text not in ("Printing", "Paused"):
            raise Conflict("Printer is neither printing nor paused")
        if command == "cancel":
            self.ended = Ended.CANCELLED
            return "PrintCancelled"
        action = action or "toggle"  # OctoPrint's backwards-compatible default
        if action == "toggle":
            action = "resume" if text == "Paused" else "pause"
        if action == "pause" and self.paused_at is None:
            self.paused_at = now
        elif action == "resume" and self.paused_at is not None:
            self.paused_total_s += now - self.paused_at
            self.paused_at = None
        return "PrintPaused" if self.paused_at is not None else "PrintResumed"

    def inject(self, action: str, now: float, *, name: str = "", duration_s: float = 0) -> bool:
        """A change a load test makes happen, as if at the printer: "start" (a file of
        `duration_s`), "finish" (the print ends now), "cancel", "pause", "resume".
        False when the printer is in no state for it (it is left alone)."""
        with self.lock:
            text = self.state_text(now)
            if action == "start" and text == "Operational":
                self.files[name] = FileInfo(0, 0)
                self.selected = name
                self._start(now, duration_s)
                event = "PrintStarted"
            elif action == "finish" and text in ("Printing", "Paused"):
                self.ended = Ended.FINISHED
                self.paused_at = None
                event = "PrintDone"
            elif action in ("cancel", "pause", "resume") and text in ("Printing", "Paused"):
                event = self._command("cancel" if action == "cancel" else "pause", action, now)
            else:
                return False
        self.on_change(event)
        return True

    def connection(self, now: float) -> dict[str, Any]:
        """GET /api/connection's "current"."""
        with self.lock:
            text = self.state_text(now)
            closed = not self.ever_connected and self.connecting_until is None
            return {
                "state": "Closed" if closed else text,
                "port": None if closed else self.port,
                "baudrate": None if closed else self.baudrate,
                "printerProfile": "_default",
            }

    def connect(self, *, port: str, baudrate: int, now: float) -> None:
        """Connect (or reconnect): "Connecting" for connect_seconds, then "Operational"."""
        with self.lock:
            self._drop(now)
            self.port, self.baudrate = port, baudrate
            self.connecting_until = now + self.connect_seconds
        self.on_change("Connecting")

    def disconnect(self, now: float) -> None:
        with self.lock:
            self._drop(now)
        self.on_change("Disconnected")

    def timed(self, now: float) -> bool:
        """Whether the state will change by itself (connecting, or a print running)."""
        with self.lock:
            text = self.state_text(now)
        return text in ("Connecting", "Printing")

    def _drop(self, now: float) -> None:
        if self.printing(now):
            self.ended = Ended.CANCELLED  # OctoPrint aborts a print on disconnect
        self.connected, self.connecting_until = False, None


class Clock:
    """The emulated printers' time: `scale` times faster than the wall clock."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._origin = time.monotonic()

    def __call__(self) -> float:
        return self._origin + (time.monotonic() - self._origin) * self.scale
