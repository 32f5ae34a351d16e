"""The fleet link: one process watches thousands of printers and hands on what it sees.

It knows nothing of jobs or runs: the caller supplies the printers to watch (`targets`, asked
once a tick and expected to be cheap: a cached list) and what to do with what was seen
(`record`, handed every tick the latest status of each printer seen since the last one).

Two threads. The network runs in an asyncio loop of its own (aiohttp): an OctoPrint is
followed on its push socket (`printers/drivers/octoprint_link.py`), its status read over HTTP
when the socket says something changed, when the socket cannot be had (polled every
`poll_seconds` instead) and whenever the socket is lost. Printers whose drivers are
synchronous (simulated, serial) are polled in a small thread pool (`threads`). The caller's
thread runs the ticks: targets, `record`, `heartbeat`, once every `poll_seconds`. So Django
(the caller's `record`) stays in one thread, and no printer waits for the database.

A link that starts (or is given many printers at once) begins to watch `start_per_s` of them a
second, so a farm's worth of first requests does not arrive in one burst and time out.
Unreachable printers never slow the others: every request of a site waits for one of that
site's `per_site` slots, and a request still unanswered after `hold_seconds` gives its slot
back (it keeps waiting for its own time-out). A printer that could not be reached is tried
again after 1, 2, 4 ... up to `backoff_max_s` seconds, in slots of its own, so a site full of
dead printers cannot take the slots of the live ones. Whatever a driver raises becomes that
printer's OFFLINE status with the reason. SIGTERM (`stop`) ends the tick, then the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from django.db import close_old_connections

from printers.drivers.base import DeviceStatus, Driver, DriverError, driver_for
from printers.drivers.octoprint_link import (
    STATE_EVENTS,
    OctoPrintLink,
    PushUnavailable,
    parse_current,
)
from printers.states import DeviceState

log = logging.getLogger(__name__)
T = TypeVar("T")
SAY_EVERY_S = 60.0  # how often the log says how the printers are watched
EVENT_SETTLE_S = 0.05  # one change sends several events in a burst: one read after them


@dataclass(frozen=True)
class Target:
    key: int  # the farm's printer id
    kind: str
    device_id: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    site: str = ""

    def same_connection(self, other: Target) -> bool:
        return (self.kind, self.device_id, self.settings, self.site) == (
            other.kind,
            other.device_id,
            other.settings,
            other.site,
        )


@dataclass(frozen=True)
class Observation:
    target: Target
    status: DeviceStatus
    at: float  # time.time() when it was seen


@dataclass(frozen=True)
class LinkSettings:
    poll_seconds: float = 1.0
    threads: int = 8  # for the synchronous drivers
    per_site: int = 256  # requests of one site under way at once
    hold_seconds: float = 0.5
    push: bool = True
    throttle: int = 10  # OctoPrint's `current` at most every throttle × 0.5 s
    backoff_max_s: float = 30.0
    start_per_s: float = 250.0  # printers a starting link begins to watch per second


def backoff_s(failures: int, *, most: float) -> float:
    """Seconds before the next try after `failures` failed ones in a row (1, 2, 4 ... most)."""
    return float(min(most, 2 ** max(0, failures - 1)))


def unreachable(status: DeviceStatus) -> bool:
    """Could not be asked at all (the network, the key), as opposed to an OctoPrint that
    answers that it is not connected to its printer."""
    return status.state is DeviceState.OFFLINE and status.message.startswith(
        ("unreachable:", "wrong API key:")
    )


def offline_because(exc: BaseException, target: Target) -> DeviceStatus:
    if isinstance(exc, DriverError):
        return DeviceStatus(DeviceState.OFFLINE, message=exc.message)
    log.error("polling printer %s failed", target.key, exc_info=exc)
    reason = str(exc).strip().splitlines()[0][:150] if str(exc).strip() else ""
    detail = f"{exc.__class__.__name__}: {reason}" if reason else exc.__class__.__name__
    return DeviceStatus(DeviceState.OFFLINE, message=f"cannot poll it: {detail}")


class FleetLink:
    def __init__(
        self,
        *,
        targets: Callable[[], Sequence[Target]],  # the same list object while unchanged
        record: Callable[[Sequence[Observation]], None],
        settings: LinkSettings | None = None,
        heartbeat: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._targets = targets
        self._record = record
        self.settings = settings or LinkSettings()
        self._heartbeat = heartbeat
        self._on_stop = on_stop
        self.stop = threading.Event()
        self._io = _Network(self.settings)
        self._watched: Sequence[Target] | None = None

    @property
    def poll_seconds(self) -> float:
        return self.settings.poll_seconds

    def run_once(self) -> int:
        """Read every printer once (all at the same time) and record what each said."""
        targets = list(self._targets())
        observations = self._io.read_all(targets)
        self._record(observations)
        if self._heartbeat is not None:
            self._heartbeat()
        return len(targets)

    def tick(self) -> int:
        """One tick of `run_forever`: the current targets watched, what was seen recorded."""
        targets = self._targets()
        if targets is not self._watched:  # a new list: printers added, removed or changed
            self._io.watch(list(targets))
            self._watched = targets
        self._record(self._io.drain())
        if self._heartbeat is not None:
            self._heartbeat()
        return len(targets)

    def run_forever(self) -> None:
        said_at = time.monotonic()
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    self.tick()
                except Exception:
                    # The database restarting, for example: wait, then try again.
                    log.exception("fleet link tick failed; retrying")
                if began - said_at >= SAY_EVERY_S:
                    said_at = began
                    modes = Counter(self.watching().values())
                    log.info("watching %d printers: %s", sum(modes.values()), dict(modes))
                self.stop.wait(max(0.0, self.poll_seconds - (time.monotonic() - began)))
        finally:
            self.close()

    def close(self) -> None:
        self._io.close()
        if self._on_stop is not None:
            self._on_stop()

    # for tests and the benchmark: what the network side is doing
    def watching(self) -> dict[int, str]:
        """Each watched printer's way of being watched now ("push", "poll", "backoff", ...)."""
        return dict(self._io.modes)


class _Network:
    """The link's asyncio side: a loop in a thread of its own, started on first use."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self.modes: dict[int, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pool = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="poll")
        self._drivers: dict[int, Driver] = {}
        self._clients: dict[int, OctoPrintLink] = {}
        self._tasks: dict[int, tuple[Target, asyncio.Task[None]]] = {}
        self._slots: dict[tuple[str, bool], asyncio.Semaphore] = {}
        self._lock = threading.Lock()
        self._seen: dict[int, Observation] = {}

    # ---- from the caller's thread ----------------------------------------------------------

    def _run(self, coroutine: Awaitable[T]) -> T:
        if self._loop is None:
            ready = threading.Event()

            def serve() -> None:
                self._loop = asyncio.new_event_loop()
                ready.set()
                self._loop.run_forever()

            self._thread = threading.Thread(target=serve, name="fleet-link-io", daemon=True)
            self._thread.start()
            ready.wait()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(_awaited(coroutine), self._loop).result()

    def read_all(self, targets: list[Target]) -> list[Observation]:
        async def read_all() -> list[Observation]:
            statuses = await asyncio.gather(*(self._read(t) for t in targets))
            now = time.time()
            return [Observation(t, s, now) for t, s in zip(targets, statuses, strict=True)]

        return self._run(read_all())

    def watch(self, targets: list[Target]) -> None:
        async def reconcile() -> None:
            wanted = {t.key: t for t in targets}
            for key, (old, task) in list(self._tasks.items()):
                if key not in wanted or not wanted[key].same_connection(old):
                    task.cancel()
                    del self._tasks[key]
                    self._clients.pop(key, None)
                    self._drivers.pop(key, None)
                    self.modes.pop(key, None)
            new = [target for key, target in wanted.items() if key not in self._tasks]
            for i, target in enumerate(new):
                # Thousands at once (a link starting) would all time out together: spread.
                delay = i / self.settings.start_per_s
                self._tasks[target.key] = (
                    target,
                    asyncio.ensure_future(self._watch(target, delay)),
                )

        self._run(reconcile())

    def drain(self) -> list[Observation]:
        with self._lock:
            seen, self._seen = self._seen, {}
        return list(seen.values())

    def close(self) -> None:
        if self._loop is None:
            self._pool.shutdown(wait=True)
            return

        async def close() -> None:
            for _, task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*(t for _, t in self._tasks.values()), return_exceptions=True)
            self._tasks.clear()
            if self._session is not None:
                await self._session.close()

        with contextlib.suppress(Exception):
            self._run(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None
        self._pool.shutdown(wait=True)

    # ---- in the loop -----------------------------------------------------------------------

    def _report(self, target: Target, status: DeviceStatus) -> None:
        with self._lock:
            self._seen[target.key] = Observation(target, status, time.time())

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No pool limit of aiohttp's own: the per-site slots are the bound.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _client(self, target: Target) -> OctoPrintLink:
        client = self._clients.get(target.key)
        if client is None or client.settings != target.settings:
            client = OctoPrintLink(self._http(), target.settings)  # may raise DriverError
            self._clients[target.key] = client
        return client

    async def _bounded(self, target: Target, work: Awaitable[T], *, suspect: bool = False) -> T:
        """Run `work` in one of the site's slots, given back after `hold_seconds` at most."""
        key = (target.site, suspect)
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(self.settings.per_site)
        try:
            await slots.acquire()
        except asyncio.CancelledError:
            if asyncio.iscoroutine(work):
                work.close()  # never started: no "never awaited" warning at shutdown
            raise
        task = asyncio.ensure_future(work)
        try:
            await asyncio.wait({task}, timeout=self.settings.hold_seconds)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            slots.release()
        return await task

    async def _read(
        self, target: Target, *, suspect: bool = False, temperatures: bool = True
    ) -> DeviceStatus:
        """One status of one printer; never raises (the reason goes into an OFFLINE status)."""
        try:
            if target.kind == "octoprint":
                client = self._client(target)
                read = client.status(temperatures=temperatures)
                return await self._bounded(target, read, suspect=suspect)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._read_sync, target)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return offline_because(exc, target)

    def _read_sync(self, target: Target) -> DeviceStatus:
        close_old_connections()  # this thread's, if the database went away since
        driver = self._drivers.get(target.key)
        if driver is None or driver.settings != target.settings:
            driver = driver_for(target.kind, device_id=target.device_id, settings=target.settings)
            self._drivers[target.key] = driver
        return driver.status()

    async def _watch(self, target: Target, delay: float = 0.0) -> None:
        self.modes[target.key] = "starting"
        await asyncio.sleep(delay)
        try:
            if target.kind == "octoprint":
                await self._watch_octoprint(target)
            else:
                await self._watch_polled(target)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watching printer %s failed; it is polled from now on", target.key)
            await self._watch_polled(target)

    async def _watch_polled(self, target: Target) -> None:
        self.modes[target.key] = "poll"
        while True:
            self._report(target, await self._read(target))
            await asyncio.sleep(self.settings.poll_seconds)

    async def _watch_octoprint(self, target: Target) -> None:
        failures = 0
        push = self.settings.push
        while True:
            # Temperatures come with the push socket's messages; polled printers read them.
            status = await self._read(target, suspect=failures > 0, temperatures=not push)
            self._report(target, status)
            if unreachable(status) or target.key not in self._clients:
                failures += 1
                self.modes[target.key] = "backoff"
                await asyncio.sleep(backoff_s(failures, most=self.settings.backoff_max_s))
                continue
            failures = 0
            if not push:
                self.modes[target.key] = "poll"
                await asyncio.sleep(self.settings.poll_seconds)
                continue
            try:
                await self._follow_push(target, self._clients[target.key])
            except PushUnavailable as exc:
                log.info("printer %s has no push socket (%s): polling it", target.key, exc)
                push = False
            except DriverError:
                pass  # read again at once: unreachable now, or back
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass  # the socket broke: read again at once, then a new socket

    async def _follow_push(self, target: Target, client: OctoPrintLink) -> None:
        self.modes[target.key] = "connecting"
        ws = await self._bounded(target, client.socket(throttle=self.settings.throttle))
        self.modes[target.key] = "push"
        # OctoPrint sends `current` at least every few seconds while it is there; a busy one
        # (or a busy link) may be late, and a needless new socket costs more than waiting.
        silence_s = max(30.0, 6 * 0.5 * self.settings.throttle)
        reader = _EventReads(self, target, client)
        try:
            async for kind, payload in client.messages(ws, silence_s=silence_s):
                if kind in ("current", "history") and isinstance(payload, dict):
                    try:
                        _, status = parse_current(payload)
                    except (TypeError, ValueError, AttributeError, KeyError):
                        continue
                    self._report(target, await client.settle(status))
                elif kind == "event" and isinstance(payload, dict):
                    if payload.get("type") in STATE_EVENTS:
                        reader.changed()
                elif kind == "reauthRequired":
                    return
        finally:
            reader.cancel()
            self.modes[target.key] = "reconnecting"
            await ws.close()


class _EventReads:
    """Reads a printer's status after its events said it changed, one read at a time: the
    events of one change (PrinterStateChanged, PrintStarted, ...) that arrive before the
    read starts share it, and one arriving during a read gets a read after it."""

    def __init__(self, network: _Network, target: Target, client: OctoPrintLink) -> None:
        self.network, self.target, self.client = network, target, client
        self.task: asyncio.Task[None] | None = None
        self.again = False

    def changed(self) -> None:
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        await asyncio.sleep(EVENT_SETTLE_S)  # the rest of this change's events, if any
        while True:
            self.again = False
            read = self.client.status(temperatures=False)
            status = await self.network._bounded(self.target, read)
            self.network._report(self.target, status)
            if not self.again:
                return

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _awaited(work: Awaitable[T]) -> T:
    return await work
