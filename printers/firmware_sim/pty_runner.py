"""Simulated Marlin boards on pseudo-terminals, all served by one thread (or process).

A pty moves bytes as fast as they are written, whatever baud rate the host sets, so each port
keeps a virtual wire: a received line "arrives" when its last byte would have arrived at the
baud rate (10 bits per byte: start, 8 data, stop), is processed after the firmware's ack delay,
and its answer is written when it would have finished crossing the wire back. That makes
one-line-in-flight streaming pay the real round trip and windowed streaming meet the real wire
limit, so the benchmark's numbers mean something.

Each port can be reached through a stable symlink (like /dev/serial/by-id/...), so an unplugged
and re-plugged board keeps its path even though the pty behind it is new.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import selectors
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from printers.firmware_sim.model import MarlinModel

log = logging.getLogger(__name__)

COALESCE_S = 0.001
_UNPLUG = b""  # an outbox entry that pulls the cable instead of writing


@dataclass
class _Port:
    name: str
    model: MarlinModel
    master: int = -1
    slave: int = -1
    device: str = ""
    partial: bytes = b""
    rx_free_at: float = 0.0
    cpu_free_at: float = 0.0
    tx_free_at: float = 0.0
    outbox: deque[tuple[float, bytes]] = field(default_factory=deque)
    next_report_at: float = 0.0
    plugged: bool = False
    reporting: bool = False  # an auto-report is scheduled
    bytes_received: int = 0


class PtyFirmware:
    def __init__(
        self,
        *,
        baud: int = 115200,
        ack_delay_s: float = 0.001,
        link_dir: Path | None = None,
    ) -> None:
        self.byte_s = 10.0 / baud
        self.ack_delay_s = ack_delay_s
        self.link_dir = link_dir
        self._ports: dict[str, _Port] = {}
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: list[tuple[float, int, _Port]] = []  # (when, tie-breaker, port) heap
        self._seq = itertools.count()

    # ---- set-up, from any thread -------------------------------------------------------

    def add_port(self, name: str, model: MarlinModel | None = None) -> str:
        """Plug in a simulated board; returns the device path a host opens."""
        port = _Port(name=name, model=model or MarlinModel())
        with self._lock:
            self._ports[name] = port
            self._plug(port)
        return self.path_of(name)

    def path_of(self, name: str) -> str:
        if self.link_dir is not None:
            return str(self.link_dir / name)
        return self._ports[name].device

    def model(self, name: str) -> MarlinModel:
        return self._ports[name].model

    def unplug(self, name: str) -> None:
        with self._lock:
            self._unplug(self._ports[name])

    def replug(self, name: str, model: MarlinModel | None = None) -> None:
        """The board comes back (rebooted: a fresh firmware state unless one is given)."""
        with self._lock:
            port = self._ports[name]
            self._unplug(port)
            port.model = model or MarlinModel(
                advanced_ok=port.model.advanced_ok, autoreport_temp=port.model.autoreport_temp
            )
            self._plug(port)

    def start(self) -> PtyFirmware:
        self._thread = threading.Thread(target=self.run, name="pty-firmware", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for port in self._ports.values():
                self._unplug(port)
        self._selector.close()

    # ---- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            # Capped so stop() and plugging from other threads are noticed soon.
            # Answers due within COALESCE_S of each other go out in one write, as a USB-serial
            # adapter's latency timer would deliver them; it saves wake-ups at 50 ports.
            wake = min(self._due[0][0] + COALESCE_S, now + 0.05) if self._due else now + 0.05
            events = self._selector.select(max(0.0, wake - now))
            now = time.monotonic()
            with self._lock:
                for key, _ in events:
                    port = key.data
                    if port.plugged:
                        self._read(port, now)
                # Only ports with something due are visited: 50 ports cost no more per wake-up.
                due: dict[str, _Port] = {}
                while self._due and self._due[0][0] <= now:
                    port = heapq.heappop(self._due)[2]
                    due[port.name] = port
                for port in due.values():
                    if port.plugged:
                        self._flush(port, now)

    def _read(self, port: _Port, now: float) -> None:
        try:
            chunk = os.read(port.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            return
        port.bytes_received += len(chunk)
        base = max(port.rx_free_at, now)
        port.rx_free_at = base + len(chunk) * self.byte_s
        data = port.partial + chunk
        offset_of_chunk = len(port.partial)
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            arrived = base + (end + 1 - offset_of_chunk) * self.byte_s
            self._process(port, data[start:end].decode("ascii", "replace"), arrived)
            start = end + 1
        port.partial = data[start:]

    def _process(self, port: _Port, line: str, arrived: float) -> None:
        answers = port.model.receive(line)
        done = max(arrived, port.cpu_free_at) + self.ack_delay_s
        port.cpu_free_at = done
        if answers:
            payload = "".join(a + "\n" for a in answers).encode("ascii")
            self._send(port, payload, done)
        if port.model.unplug_requested:
            port.model.unplug_requested = False
            self._queue(port, max(done, port.tx_free_at), _UNPLUG)
        interval = port.model.autoreport_interval_s
        if interval and not port.reporting:
            port.reporting = True
            port.next_report_at = done + interval
            heapq.heappush(self._due, (port.next_report_at, next(self._seq), port))

    def _send(self, port: _Port, payload: bytes, ready_at: float) -> None:
        begin = max(ready_at, port.tx_free_at)
        port.tx_free_at = begin + len(payload) * self.byte_s
        self._queue(port, port.tx_free_at, payload)

    def _queue(self, port: _Port, when: float, payload: bytes) -> None:
        port.outbox.append((when, payload))
        heapq.heappush(self._due, (when, next(self._seq), port))

    def _flush(self, port: _Port, now: float) -> None:
        if port.reporting and now >= port.next_report_at:
            if port.model.autoreport_interval_s:
                port.next_report_at = now + port.model.autoreport_interval_s
                heapq.heappush(self._due, (port.next_report_at, next(self._seq), port))
                self._send(port, (port.model.temperature_report() + "\n").encode(), now)
            else:
                port.reporting = False
        out = bytearray()
        while port.outbox and port.outbox[0][0] <= now:
            _, payload = port.outbox.popleft()
            if not payload:  # _UNPLUG
                self._write(port, bytes(out))
                self._unplug(port)
                return
            out += payload
        if out:
            self._write(port, bytes(out))

    def _write(self, port: _Port, data: bytes) -> None:
        try:
            os.write(port.master, data)
        except BlockingIOError:
            log.debug("%s: nobody is reading; %d bytes dropped", port.name, len(data))
        except OSError:
            pass

    # ---- cables ------------------------------------------------------------------------

    def _plug(self, port: _Port) -> None:
        master, slave = os.openpty()
        # Raw at once: a cooked pty would echo the host's lines back and translate newlines.
        tty.setraw(slave)
        os.set_blocking(master, False)
        port.master, port.slave = master, slave
        port.device = os.ttyname(slave)
        port.partial = b""
        port.outbox.clear()
        port.rx_free_at = port.cpu_free_at = port.tx_free_at = 0.0
        port.reporting = False
        port.plugged = True
        self._selector.register(master, selectors.EVENT_READ, port)
        if self.link_dir is not None:
            link = self.link_dir / port.name
            tmp = self.link_dir / f".{port.name}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(port.device)
            tmp.replace(link)
        self._send(port, "".join(s + "\n" for s in port.model.boot_lines()).encode(), 0.0)

    def _unplug(self, port: _Port) -> None:
        if not port.plugged:
            return
        port.plugged = False
        self._selector.unregister(port.master)
        os.close(port.master)
        os.close(port.slave)
        if self.link_dir is not None:
            (self.link_dir / port.name).unlink(missing_ok=True)
