"""The fleet link's loop: poll every printer, hand each status to whoever records it.

It knows nothing of jobs or runs: the caller supplies the printers to watch (`targets`) and what
to do with each status (`observe`). One loop is one pass over every printer, so it can be tested
one iteration at a time. SIGTERM (via `stop`) finishes the current pass, then stops.

One printer's trouble stays that printer's: whatever its driver raises while polling becomes
its OFFLINE status with the reason, and the pass goes on for every other printer. The polling
threads live as long as the process, and some drivers (simulated, serial) read the database
in them: each poll first drops that thread's connection if it died (a database restart), as
Django does around every request, so the first poll after the restart works again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections

from printers.drivers.base import DeviceStatus, Driver, DriverError, driver_for
from printers.states import DeviceState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    key: int  # the farm's printer id
    kind: str
    device_id: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class FleetLink:
    def __init__(
        self,
        *,
        targets: Callable[[], Iterable[Target]],
        observe: Callable[[Target, DeviceStatus], None],
        poll_seconds: float = 1.0,
        threads: int = 8,
    ) -> None:
        self._targets = targets
        self._observe = observe
        self.poll_seconds = poll_seconds
        self._drivers: dict[Target, Driver] = {}
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="poll")
        self.stop = threading.Event()

    def driver(self, target: Target) -> Driver:
        # Drivers hold connections (HTTP sessions, serial ports): keep one per printer, and a
        # new one when its settings change.
        existing = self._drivers.get(target)
        if existing is None or existing.settings != target.settings:
            existing = driver_for(target.kind, device_id=target.device_id, settings=target.settings)
            self._drivers[target] = existing
        return existing

    def poll(self, target: Target) -> DeviceStatus:
        """One printer's status; never raises (the reason goes into an OFFLINE status)."""
        try:
            close_old_connections()  # this thread's, if the database went away since
            return self.driver(target).status()
        except DriverError as exc:
            return DeviceStatus(DeviceState.OFFLINE, message=exc.message)
        except Exception as exc:
            log.exception("polling printer %s failed", target.key)
            reason = str(exc).strip().splitlines()[0][:150] if str(exc).strip() else ""
            detail = f"{exc.__class__.__name__}: {reason}" if reason else exc.__class__.__name__
            return DeviceStatus(DeviceState.OFFLINE, message=f"cannot poll it: {detail}")

    def run_once(self) -> int:
        """Poll every printer once (in parallel: network round trips overlap) and record each."""
        targets = list(self._targets())
        statuses = list(self._pool.map(self.poll, targets))
        for target, status in zip(targets, statuses, strict=True):
            try:
                self._observe(target, status)
            except Exception:
                # One printer's bad record must not stop the watch over all the others.
                log.exception("recording the status of printer %s failed", target.key)
        return len(targets)

    def run_forever(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.run_once()
            except Exception:
                # The database restarting, for example: wait, then try again.
                log.exception("fleet link pass failed; retrying")
            self.stop.wait(max(0.0, self.poll_seconds - (time.monotonic() - began)))
        self._pool.shutdown(wait=True)
