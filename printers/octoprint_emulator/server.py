"""The emulator's server: OctoPrint's REST endpoints and push socket over `EmulatedPrinter`s.

One asyncio (aiohttp) process serves thousands of printers: printer n under `/printer/<n>`
(printer 0 also at the root), its push socket at `/printer/<n>/sockjs/websocket` (SockJS's
raw websocket, as OctoPrint 1.11 serves it: `auth` with the name and session of a passive
log-in, `throttle`, `subscribe`; then `history`, `current` at most every 0.5 s × throttle
and `event` at once). Offline printers are given a port where nothing listens (connection
refused), black-holed ones a port that accepts and never answers (`printer_url`).

For load tests, `/_emulator/printers` lists every printer's URL and mode, `/_emulator/stats`
counts push sockets and requests, and `POST /_emulator/inject` changes printers as if at the printer and answers with the time
(`time.time()`) the change was made, so a benchmark can time how long the farm took to see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, WSMsgType, web

from printers.octoprint_emulator.faults import Faults, Mode
from printers.octoprint_emulator.state import Clock, Conflict, EmulatedPrinter, LineCounter

VERSION = {"api": "0.1", "server": "1.11.8", "text": "OctoPrint 1.11.8 (farm emulator)"}
PORTS = ["VIRTUAL"]
BAUDRATES = [250000, 230400, 115200, 57600, 38400, 19200, 9600]
BASE_RATE_S = 0.5  # OctoPrint's base rate limit of `current` messages
TICK_S = 0.25  # the push rate's granularity (events are sent at once, not on ticks)
_ROUTE = re.compile(r"^(?:/printer/(\d+))?(/api/.*|/sockjs/websocket)$")
TEMPERATURES = {
    "tool0": {"actual": 214.8, "target": 215.0},
    "bed": {"actual": 60.1, "target": 60.0},
}
FORBIDDEN = {"error": "You don't have the permission to access the requested resource."}


def _reply(status: int, body: Any = None) -> web.Response:
    if body is None:
        return web.Response(status=status)
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


@dataclass(eq=False)
class _Push:
    """One authenticated push socket of one printer."""

    ws: web.WebSocketResponse
    interval_s: float = BASE_RATE_S
    next_due: float = 0.0
    events: list[str] | None = None  # None: every event
    closed: bool = False


@dataclass
class _Listeners:
    sockets: dict[int, list[_Push]] = field(default_factory=dict)
    last_text: dict[int, str] = field(default_factory=dict)
    timed: set[int] = field(default_factory=set)  # printers whose state changes by itself


class EmulatorServer:
    """N emulated OctoPrints on one port. In-process: `start()` serves from a thread and
    `stop()` ends it; the command line calls `serve_forever()`."""

    def __init__(
        self,
        address: tuple[str, int] = ("127.0.0.1", 0),
        *,
        printers: int,
        api_key: str,
        faults: Faults | None = None,
        time_scale: float = 1.0,
        **options: Any,
    ) -> None:
        self.api_key = api_key
        self.faults = faults or Faults()
        self.clock = Clock(time_scale)
        self.printers = {i: EmulatedPrinter(**options) for i in range(printers)}
        for n, printer in self.printers.items():
            printer.on_change = partial(self._changed_from_anywhere, n)
        self.sessions: set[str] = set()
        self.requests: Counter[str] = Counter()  # by path, for tests and the benchmark
        self.in_flight = 0
        self.most_in_flight = 0
        self._listeners = _Listeners()
        self._current_cache: dict[int, tuple[dict[str, Any], str]] = {}
        self._sock = socket.create_server(address, backlog=4096)
        self._sock.setblocking(False)
        # Bound, never listening: connecting to it is refused, as to a printer switched off.
        self._refusing = socket.socket()
        self._refusing.bind((address[0], 0))
        self._blackhole = socket.create_server((address[0], 0), backlog=4096)
        self._blackhole.setblocking(False)
        self._held: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    # ---- addresses -------------------------------------------------------------------------

    def _base(self, sock: socket.socket) -> str:
        host, port = sock.getsockname()[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self._base(self._sock)

    def printer_url(self, n: int) -> str:
        """Where printer n answers (or, offline or black-holed, where it does not)."""
        mode = self.faults.mode(n)
        sock = {Mode.ONLINE: self._sock, Mode.OFFLINE: self._refusing}.get(mode, self._blackhole)
        return f"{self._base(sock)}/printer/{n}"

    # ---- running ---------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            runner = loop.run_until_complete(self._open())
            ready.set()
            loop.run_until_complete(self._wait_stopped())
            loop.run_until_complete(self._close(runner))
            loop.close()

        self._thread = threading.Thread(target=run, name="octoprint-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        """Serve until SIGTERM or SIGINT."""
        import signal

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            runner = await self._open()
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._stop_soon)
            await self._wait_stopped()
            await self._close(runner)

        asyncio.run(main())

    def _stop_soon(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _wait_stopped(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()

    async def _open(self) -> web.AppRunner:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=1024**4)
        app.router.add_get("/_emulator/printers", self._manifest)
        app.router.add_post("/_emulator/inject", self._inject)
        app.router.add_get("/_emulator/stats", self._stats)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        await web.SockSite(runner, self._sock).start()
        await asyncio.start_server(self._hold, sock=self._blackhole)
        self._ticker = asyncio.ensure_future(self._tick_forever())
        return runner

    async def _close(self, runner: web.AppRunner) -> None:
        self._ticker.cancel()
        for writer in list(self._held):
            writer.close()
        for pushes in list(self._listeners.sockets.values()):
            for push in pushes:
                with contextlib.suppress(Exception):
                    await push.ws.close()
        await runner.cleanup()
        self._refusing.close()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A black-holed printer: the connection is accepted and never answered (what the
        client sends is read and dropped until it gives up and closes)."""
        self._held.add(writer)
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            self._held.discard(writer)
            writer.close()

    # ---- REST ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        match = _ROUTE.match(request.path)
        printer = self.printers.get(int(match.group(1) or 0)) if match else None
        if match is None or printer is None:
            return _reply(404, {"error": "Not found"})
        n, path = int(match.group(1) or 0), match.group(2)
        if path == "/sockjs/websocket":
            return await self._push(request, n)
        self.requests[path] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request, printer, n, path)
        finally:
            self.in_flight -= 1

    async def _answer(
        self, request: web.Request, printer: EmulatedPrinter, n: int, path: str
    ) -> web.StreamResponse:
        if request.headers.get("X-Api-Key") != self.api_key:
            # Without a valid key a POST is a browser's, which OctoPrint wants a CSRF token of.
            if request.method == "POST":
                return _reply(400, {"error": "CSRF validation failed"})
            return _reply(403, FORBIDDEN)
        if self.faults.slow(n):
            await asyncio.sleep(self.faults.slow_seconds)
        if self.faults.drop():
            assert request.transport is not None
            request.transport.close()  # the connection is lost mid-request
            return _reply(204)
        now = self.clock()
        try:
            if request.method == "GET":
                return self._get(printer, path, now)
            if request.method == "POST":
                return await self._post(request, printer, path, now)
        except Conflict as exc:
            return _reply(409, {"error": str(exc)})
        except (KeyError, ValueError) as exc:
            return _reply(404 if isinstance(exc, KeyError) else 400, {"error": str(exc)})
        return _reply(405, {"error": "Method not allowed"})

    def _get(self, p: EmulatedPrinter, path: str, now: float) -> web.Response:
        if path == "/api/version":
            return _reply(200, VERSION)
        if path == "/api/job":
            return _reply(200, p.job(now))
        if path == "/api/connection":
            options = {
                "ports": PORTS,
                "baudrates": BAUDRATES,
                "printerProfiles": [{"id": "_default", "name": "Emulated"}],
                "portPreference": None,
                "baudratePreference": None,
                "printerProfilePreference": "_default",
                "autoconnect": False,
            }
            return _reply(200, {"current": p.connection(now), "options": options})
        if path.startswith("/api/printer") and not path.startswith("/api/printerprofiles"):
            text = p.state_text(now)
            if text in ("Offline", "Connecting") or self.faults.conflict():
                return _reply(409, {"error": "Printer is not operational"})
            return _reply(200, {"state": _state(p.job(now)["state"]), "temperature": TEMPERATURES})
        if path == "/api/printerprofiles":
            w, d, h = p.volume
            profile = {
                "id": "_default",
                "name": "Emulated",
                "model": "Farm emulator",
                "default": True,
                "current": True,
                "volume": {"width": w, "depth": d, "height": h, "formFactor": "rectangular"},
            }
            return _reply(200, {"profiles": {"_default": profile}})
        return _reply(404, {"error": "Not found"})

    async def _post(
        self, request: web.Request, p: EmulatedPrinter, path: str, now: float
    ) -> web.Response:
        if path == "/api/files/local":
            return await self._upload(request, p, now)
        if path == "/api/login":
            body = await _json(request)
            if not body.get("passive"):
                return _reply(400, {"error": "the emulator only does passive log-ins"})
            session = secrets.token_hex(16)
            self.sessions.add(session)
            user = {"name": "farm", "session": session, "active": True, "admin": True}
            return _reply(200, {**user, "groups": ["admins", "users"], "permissions": []})
        if path.startswith("/api/files/local/"):
            body = await _json(request)
            if body.get("command") != "select":
                return _reply(400, {"error": "unknown command"})
            name = unquote(path[len("/api/files/local/") :])
            p.select(name, start=bool(body.get("print")), now=now)
            return _reply(204)
        if path == "/api/job":
            if self.faults.conflict():
                return _reply(409, {"error": "Printer is busy"})
            body = await _json(request)
            p.command(str(body.get("command")), str(body.get("action") or ""), now)
            return _reply(204)
        if path == "/api/connection":
            return _connection_command(p, await _json(request), now)
        return _reply(404, {"error": "Not found"})

    async def _upload(self, request: web.Request, p: EmulatedPrinter, now: float) -> web.Response:
        """Streams the file part through (counting its lines), never holding it whole."""
        if self.faults.conflict():
            return _reply(409, {"error": "Printer is busy"})
        name, counter, flags = None, LineCounter(), {"select": False, "print": False}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                name = part.filename or ""
                while chunk := await part.read_chunk(256 * 1024):
                    counter.feed(chunk)
            elif part.name in ("select", "print"):
                flags[part.name] = (await part.text()).strip().lower() == "true"
        if name is None:
            return _reply(400, {"error": "No file to upload and no folder to create"})
        selected, started = p.upload(
            name,
            counter.info(),
            select=flags["select"] or flags["print"],
            start=flags["print"],
            now=now,
        )
        files = {"local": {"name": name, "origin": "local", "path": name}}
        body = {"done": True, "files": files, "effectiveSelect": selected}
        return _reply(201, {**body, "effectivePrint": started})

    # ---- push ------------------------------------------------------------------------------

    async def _push(self, request: web.Request, n: int) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"connected": {"version": VERSION["server"]}}))
        push = _Push(ws)
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    await self._push_command(n, push, json.loads(message.data))
        finally:
            push.closed = True
            pushes = self._listeners.sockets.get(n, [])
            if push in pushes:
                pushes.remove(push)
        return ws

    async def _push_command(self, n: int, push: _Push, message: dict[str, Any]) -> None:
        if "auth" in message:
            _, _, session = str(message["auth"]).partition(":")
            if session not in self.sessions:
                await push.ws.send_str(json.dumps({"reauthRequired": {"reason": "stale"}}))
                return
            pushes = self._listeners.sockets.setdefault(n, [])
            if push not in pushes:
                pushes.append(push)
                await push.ws.send_str(json.dumps({"history": self._current(n)}))
                push.next_due = time.monotonic() + push.interval_s
        elif "throttle" in message:
            push.interval_s = BASE_RATE_S * max(1, int(message["throttle"]))
        elif "subscribe" in message:
            events = message["subscribe"].get("events", True)
            push.events = None if events is True else list(events or [])

    def _current(self, n: int, job: dict[str, Any] | None = None) -> dict[str, Any]:
        job = job or self.printers[n].job(self.clock())
        connected = job["state"] not in ("Offline", "Connecting")
        return {
            "state": _state(job["state"]),
            "job": job["job"],
            "progress": job["progress"],
            "currentZ": None,
            "offsets": {},
            "temps": [{"time": int(time.time()), **TEMPERATURES}] if connected else [],
            "logs": [],
            "messages": [],
            "busyFiles": [],
            "serverTime": time.time(),
        }

    def _changed_from_anywhere(self, n: int, event: str) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._changed(n, event)
        else:
            loop.call_soon_threadsafe(self._changed, n, event)

    def _changed(self, n: int, event: str) -> None:
        """Printer n changed: its event now, and its next `current` as soon as allowed."""
        listeners, now = self._listeners, self.clock()
        if self.printers[n].timed(now):
            listeners.timed.add(n)
        events = [event]
        text = self.printers[n].state_text(now)
        if listeners.last_text.get(n) != text:
            listeners.last_text[n] = text
            events.append("PrinterStateChanged")
        soon = time.monotonic()
        for push in listeners.sockets.get(n, []):
            for name in events:
                if push.events is None or name in push.events:
                    message = {"event": {"type": name, "payload": {"state_string": text}}}
                    asyncio.ensure_future(self._send(n, push, message))
            push.next_due = min(push.next_due, soon)

    def _current_text(self, n: int) -> str:
        """The `current` message of printer n, serialised again only when its job changed
        (thousands of idle printers would otherwise cost the emulator most of its time)."""
        job = self.printers[n].job(self.clock())
        cached = self._current_cache.get(n)
        if cached is None or cached[0] != job:
            cached = (job, json.dumps({"current": self._current(n, job)}))
            self._current_cache[n] = cached
        return cached[1]

    async def _send(self, n: int, push: _Push, message: dict[str, Any]) -> None:
        await self._send_text(push, json.dumps(message))

    async def _send_text(self, push: _Push, text: str) -> None:
        if push.closed:
            return
        try:
            if self.faults.drop():
                push.closed = True
                await push.ws.close()
                return
            await push.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            push.closed = True

    async def _tick_forever(self) -> None:
        listeners = self._listeners
        while True:
            await asyncio.sleep(TICK_S)
            now = self.clock()
            for n in list(listeners.timed):  # a print that ended, a connection made
                printer = self.printers[n]
                text = printer.state_text(now)
                if text != listeners.last_text.get(n):
                    self._changed(n, "PrintDone" if text == "Operational" else "Connected")
                if not printer.timed(now):
                    listeners.timed.discard(n)
            wall = time.monotonic()
            for n, pushes in listeners.sockets.items():
                for push in pushes:
                    if push.next_due <= wall:
                        push.next_due = wall + push.interval_s
                        asyncio.ensure_future(self._send_text(push, self._current_text(n)))

    # ---- load-test control -----------------------------------------------------------------

    async def _manifest(self, request: web.Request) -> web.Response:
        rows = [
            {"n": n, "url": self.printer_url(n), "mode": self.faults.mode(n).value}
            for n in self.printers
        ]
        return _reply(200, {"api_key": self.api_key, "printers": rows})

    async def _stats(self, request: web.Request) -> web.Response:
        """How many push sockets are authenticated, and the requests served, by path."""
        sockets = sum(len(p) for p in self._listeners.sockets.values())
        return _reply(200, {"push_sockets": sockets, "requests": dict(self.requests)})

    async def _inject(self, request: web.Request) -> web.Response:
        """{"printers": [n, ...], "action": "start"|"finish"|"cancel"|"pause"|"resume",
        "duration_s": s} -> {"applied": [n, ...], "at": time.time() once all were made}."""
        body = await _json(request)
        action, now = str(body.get("action")), self.clock()
        duration = float(body.get("duration_s") or 86400)
        applied = []
        for n in body.get("printers") or []:
            printer = self.printers.get(int(n))
            name = f"bench-{n}-{time.monotonic_ns()}.gcode"
            if printer and printer.inject(action, now, name=name, duration_s=duration):
                applied.append(int(n))
        return _reply(200, {"applied": applied, "at": time.time()})


def _state(text: str) -> dict[str, Any]:
    flags = {
        "operational": text not in ("Offline", "Connecting", "Error"),
        "printing": text == "Printing",
        "paused": text == "Paused",
        "error": text == "Error",
        "ready": text == "Operational",
        "closedOrError": text in ("Offline", "Error"),
    }
    return {"text": text, "flags": flags, "error": ""}


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _connection_command(p: EmulatedPrinter, body: dict[str, Any], now: float) -> web.Response:
    """POST /api/connection, validated as OctoPrint 1.11 does (api/connection.py)."""
    command = body.get("command")
    if command == "connect":
        port = body.get("port", "AUTO")
        baudrate = body.get("baudrate", 0)
        if port not in PORTS and port != "AUTO":
            return _reply(400, {"error": "port is invalid"})
        if baudrate not in BAUDRATES and baudrate != 0:
            return _reply(400, {"error": "baudrate is invalid"})
        p.connect(
            port=PORTS[0] if port == "AUTO" else port, baudrate=baudrate or BAUDRATES[0], now=now
        )
    elif command == "disconnect":
        p.disconnect(now)
    elif command != "fake_ack":
        return _reply(400, {"error": "command must be one of connect, disconnect, fake_ack"})
    return _reply(204)
