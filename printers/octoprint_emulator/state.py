"""One emulated OctoPrint printer: connection, files, the job and its clock.

Like OctoPrint without autoconnect, a printer starts not connected ("Closed") until asked to
connect; connecting takes `connect_seconds` ("Connecting"), then it is "Operational".
"""

from __future__ import annotations

import threading
import time
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
    files: dict[str, bytes] = field(default_factory=dict)
    selected: str = ""
    started_at: float | None = None
    duration_s: float = 0.0
    paused_at: float | None = None
    paused_total_s: float = 0.0
    ended: Ended = Ended.NOT_YET
    lock: threading.Lock = field(default_factory=threading.Lock)

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
            size = len(self.files.get(self.selected, b""))
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
        self, name: str, data: bytes, *, select: bool, start: bool, now: float
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

    def _start(self, now: float) -> None:
        lines = sum(1 for line in self.files[self.selected].splitlines() if line.strip())
        self.started_at, self.paused_at, self.paused_total_s = now, None, 0.0
        self.duration_s = max(0.5, lines * self.seconds_per_line)
        self.ended = Ended.NOT_YET

    def command(self, command: str, action: str, now: float) -> None:
        with self.lock:
            text = self.state_text(now)
            if command == "start":
                if text != "Operational" or not self.selected:
                    raise Conflict("Printer is not operational or no file selected")
                self._start(now)
            elif command == "cancel":
                if text not in ("Printing", "Paused"):
                    raise Conflict("Printer is neither printing nor paused")
                self.ended = Ended.CANCELLED
            elif command == "pause":
                if text not in ("Printing", "Paused"):
                    raise Conflict("Printer is neither printing nor paused")
                action = action or "toggle"  # OctoPrint's backwards-compatible default
                if action == "toggle":
                    action = "resume" if text == "Paused" else "pause"
                if action == "pause" and self.paused_at is None:
                    self.paused_at = now
                elif action == "resume" and self.paused_at is not None:
                    self.paused_total_s += now - self.paused_at
                    self.paused_at = None
            else:
                raise ValueError(command)

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

    def disconnect(self, now: float) -> None:
        with self.lock:
            self._drop(now)

    def _drop(self, now: float) -> None:
        if self.printing(now):
            self.ended = Ended.CANCELLED  # OctoPrint aborts a print on disconnect
        self.connected, self.connecting_until = False, None


def wall() -> float:
    return time.monotonic()
