"""Many serial links served by one selector loop in one process (or one thread of it).

Each loop iteration waits for any port to become readable (at most `tick_s`), reads what came,
then lets every link send what its window allows and do its time-driven work. A link whose port
disappears drops out of the selector and reconnects on its own when the port comes back, so one
unplugged printer never stops the others.

`on_tick` is called about every `tick_s` with the host, for the command channel and the status
publisher; it runs in the loop's thread, so it may call link methods directly.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import threading
import time
from collections.abc import Callable, Iterable

from printers.serialhost.link import PortLink

log = logging.getLogger(__name__)


class SerialHost:
    def __init__(
        self,
        links: Iterable[PortLink] = (),
        *,
        tick_s: float = 0.05,
        on_tick: Callable[[SerialHost], None] | None = None,
        on_tick_every_s: float = 0.5,
    ) -> None:
        self.links: dict[str, PortLink] = {}
        self.tick_s = tick_s
        self.on_tick = on_tick
        self.on_tick_every_s = on_tick_every_s
        self._selector = selectors.DefaultSelector()
        # device id -> (fd, the port object): a reopened port may get the same fd number back.
        self._registered: dict[str, tuple[int, object]] = {}
        self._stop = threading.Event()
        self._next_on_tick = 0.0
        self._next_tick = 0.0
        for link in links:
            self.add(link)

    def add(self, link: PortLink) -> None:
        self.links[link.device_id] = link

    def remove(self, device_id: str) -> None:
        link = self.links.pop(device_id, None)
        self._unregister(device_id)
        if link is not None and link.port is not None:
            link.port.close()

    def stop(self) -> None:
        """Ask the loop to finish its current iteration and return (safe from any thread)."""
        self._stop.set()

    def serve(self, *, until: Callable[[], bool] | None = None) -> None:
        for link in self.links.values():
            if link.port is None:
                link.connect()
        while not self._stop.is_set() and not (until is not None and until()):
            self.run_once()
        for device_id in list(self.links):
            self._unregister(device_id)
        if self._stop.is_set():
            for link in self.links.values():
                link.close()

    def run_once(self) -> None:
        self._sync_registrations()
        ready = [key.data for key, _ in self._selector.select(self.tick_s)]
        for link in ready:
            if link.port is not None:
                link.on_readable()
        for link in ready:
            link.pump()
        now = time.monotonic()
        # Only the ports that answered need a pump on each wake-up; time-driven work (and
        # lines queued by commands) waits at most one tick. With 50 busy ports this keeps the
        # loop's cost per wake-up proportional to the work, not to the number of ports.
        if now >= self._next_tick:
            self._next_tick = now + self.tick_s
            for link in list(self.links.values()):
                link.tick()
                link.pump()
        if self.on_tick is not None and now >= self._next_on_tick:
            self._next_on_tick = now + self.on_tick_every_s
            try:
                self.on_tick(self)
            except Exception:
                # The channel (a database, a cache) may be briefly away; printing must go on.
                log.exception("serial host: command/status channel failed; printing goes on")

    def _sync_registrations(self) -> None:
        for device_id, link in self.links.items():
            fd = link.fileno()
            current = (fd, link.port) if fd is not None else None
            held = self._registered.get(device_id)
            if held is None or current is None or held[1] is not current[1]:
                if held is not None:
                    self._unregister(device_id)
                if fd is not None:
                    self._selector.register(fd, selectors.EVENT_READ, link)
                    self._registered[device_id] = (fd, link.port)

    def _unregister(self, device_id: str) -> None:
        held = self._registered.pop(device_id, None)
        if held is not None:
            fd = held[0]
            # Closed already, so the kernel forgot it; the selector's own map still needs it gone.
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(fd)
