"""One emulated OctoPrint printer: connection, files, the job and its clock."""

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
    connected: bool = True
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
            selected = select and not busy and self.connected
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
            if self.printing(now) or not self.connected:
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

    def set_connected(self, connected: bool, now: float) -> None:
        with self.lock:
            if not connected and self.printing(now):
                self.ended = Ended.CANCELLED  # OctoPrint aborts a print on disconnect
            self.connected = connected


def wall() -> float:
    return time.monotonic()
