"""The fleet link's asynchronous OctoPrint client: status over HTTP, and OctoPrint's push socket.

The fleet link watches thousands of OctoPrints from one process, so it cannot spend a thread
on each, nor poll each every second. This client speaks aiohttp: `status()` reads the job (and
the temperatures) the way `OctoPrintDriver.status()` does, with the same states, reasons and
connect back-off; `socket()` opens OctoPrint's push socket (SockJS's raw websocket at
`/sockjs/websocket`): a passive log-in with the API key gives a name and a session, then
`{"subscribe": ...}` (state without the terminal's log lines, the printer's own events),
`{"throttle": n}` (one `current` at most every n × 0.5 s) and `{"auth": "name:session"}`.
OctoPrint then sends `history`, `current` messages and `event`s as they happen.

Commands, uploads and capabilities stay with the sync driver (`printers/drivers/octoprint.py`),
which dispatch uses; both read OctoPrint's answers with the same functions (`parse_job`,
`map_state`, `describe_body`, `http_error`), and the contract tests run both against a real
OctoPrint and the emulator.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from printers.drivers.base import (
    DeviceStatus,
    DriverError,
    PermanentDriverError,
    TransientDriverError,
)
from printers.drivers.octoprint import (
    STATE_TABLE,
    connect_delay_s,
    connecting_status,
    describe_body,
    http_error,
    parse_job,
)
from printers.states import DeviceState

# The events after which the link reads the status at once, rather than waiting for the next
# (throttled) `current` message.
STATE_EVENTS = [
    "PrinterStateChanged",
    "Connected",
    "Disconnected",
    "Error",
    "PrintStarted",
    "PrintDone",
    "PrintFailed",
    "PrintCancelled",
    "PrintPaused",
    "PrintResumed",
    "FileSelected",
]
SUBSCRIBE = {"state": {"logs": False, "messages": False}, "events": STATE_EVENTS, "plugins": False}


class PushUnavailable(Exception):
    """This OctoPrint has no push socket the link can use (too old, or a proxy in the way)."""


def parse_current(payload: dict[str, Any]) -> tuple[str, DeviceStatus]:
    """A push `current` or `history` payload -> (OctoPrint's state text, our status).

    Raises TypeError, ValueError or AttributeError on a payload that is not OctoPrint's.
    """
    state = payload.get("state") or {}
    job = {
        "state": state.get("text") or "Offline",
        "job": payload.get("job") or {},
        "progress": payload.get("progress") or {},
        "error": state.get("error"),
    }
    text, status = parse_job(job)
    points = payload.get("temps") or []
    latest = points[-1] if points else {}
    temperatures = {
        str(sensor): float(values["actual"])
        for sensor, values in latest.items()
        if isinstance(values, dict) and isinstance(values.get("actual"), int | float)
    }
    return text, replace(status, temperatures=temperatures)


class OctoPrintLink:
    """One OctoPrint, as the fleet link watches it. Never shared between event loops."""

    def __init__(self, session: aiohttp.ClientSession, settings: dict[str, Any]) -> None:
        url = str(settings.get("url") or "").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PermanentDriverError(
                f"OctoPrint URL must be http(s)://host[:port][/path]: {url!r}"
            )
        self.api_key = str(settings.get("api_key") or "")
        if not self.api_key:
            raise PermanentDriverError("OctoPrint needs an API key")
        self.url = url
        self.settings = settings
        self.timeout_s = float(settings.get("timeout_s") or 10)
        self.session = session
        self.connect_attempts = 0
        self._next_connect_at = 0.0

    # ---- HTTP ------------------------------------------------------------------------------

    async def _request(self, what: str, method: str, path: str, body: Any = None) -> Any:
        """One request; its JSON answer (None when empty), or a driver error with a reason."""
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.session.request(
                    method, self.url + path, json=body, headers={"X-Api-Key": self.api_key}
                ) as response:
                    content = await response.read()
                    content_type = response.headers.get("Content-Type", "")
        except TimeoutError:
            raise self._unreachable(f"no answer within {self.timeout_s:g} s") from None
        except aiohttp.ClientConnectorError:
            raise self._unreachable("cannot connect (refused, or no route)") from None
        except aiohttp.ClientError as exc:
            raise self._unreachable(f"the request failed ({exc.__class__.__name__})") from None
        reason = describe_body(content_type, content)
        if not 200 <= response.status < 300:
            text = content.decode(errors="replace")
            html = reason is not None and "HTML" in reason
            raise http_error(self.url, what, response.status, text, html=html)
        if reason is not None:
            raise self._unreachable(reason)
        return json.loads(content) if content.strip() else None

    def _unreachable(self, reason: str) -> TransientDriverError:
        return TransientDriverError(f"unreachable: {reason} ({self.url})")

    def _not_octoprint(self) -> TransientDriverError:
        return self._unreachable("answered with JSON that is not OctoPrint's API")

    async def read(self, *, temperatures: bool = True) -> tuple[str, DeviceStatus]:
        """(OctoPrint's state text, the status as OctoPrint reports it); raises DriverError."""
        job = await self._request("read the job", "GET", "/api/job")
        try:
            text, status = parse_job(job)
        except (TypeError, ValueError, AttributeError, KeyError):
            raise self._not_octoprint() from None
        if status.state in (DeviceState.OFFLINE, DeviceState.CONNECTING):
            if text not in STATE_TABLE:  # e.g. "Closed": say what OctoPrint said
                status = replace(status, message=f"OctoPrint says {text!r}")
            return text, status
        if not temperatures:
            return text, status
        try:
            printer = await self._request("read the printer", "GET", "/api/printer?exclude=sd")
        except TransientDriverError:
            printer = {}  # 409 between a disconnect and our request: no temperatures
        found: dict[str, float] = {}
        sensors = printer.get("temperature") if isinstance(printer, dict) else None
        for sensor, values in (sensors if isinstance(sensors, dict) else {}).items():
            actual = values.get("actual") if isinstance(values, dict) else None
            if isinstance(actual, int | float) and not isinstance(actual, bool):
                found[str(sensor)] = float(actual)
        return text, replace(status, temperatures=found)

    async def status(self, *, temperatures: bool = True) -> DeviceStatus:
        """The status, with the reason when the printer cannot be used; never raises.

        As `OctoPrintDriver.status()`: an OctoPrint not connected to its printer is asked to
        connect, again with back-off while it stays unconnected."""
        try:
            _, current = await self.read(temperatures=temperatures)
        except DriverError as exc:
            return DeviceStatus(DeviceState.OFFLINE, message=exc.message)
        return await self.settle(current)

    async def settle(self, current: DeviceStatus) -> DeviceStatus:
        """What to report for `current` (read or pushed), asking OctoPrint to connect when due."""
        if current.state is DeviceState.OFFLINE:
            return await self._connect_again(current, "")
        if current.state is DeviceState.ERROR and self.connect_attempts:
            # Our own connect failed ("Offline after error"): not the firmware's fault to
            # hand to a person yet; the printer may just be switched off. Try again later.
            return await self._connect_again(
                current, current.message.removeprefix("firmware error: ")
            )
        if current.state is not DeviceState.CONNECTING:
            self.connect_attempts = 0  # connected (or a real error while connected)
        return current

    async def _connect_again(self, current: DeviceStatus, failure: str) -> DeviceStatus:
        now = time.monotonic()
        if now >= self._next_connect_at:
            self.connect_attempts += 1
            self._next_connect_at = now + connect_delay_s(self.connect_attempts)
            try:
                await self.connect()
            except DriverError as exc:
                failure = exc.message
        return connecting_status(current, self.connect_attempts, failure)

    async def connect(self) -> None:
        """Ask OctoPrint to connect to its printer, as `OctoPrintDriver.connect()` does."""
        body: dict[str, Any] = {"command": "connect"}
        port = str(self.settings.get("port") or "")
        baud = self.settings.get("baud")
        if port:
            body["port"] = port
        if baud not in (None, ""):
            body["baudrate"] = int(baud)
        await self._request("connect to the printer", "POST", "/api/connection", body)

    # ---- push ------------------------------------------------------------------------------

    async def login(self) -> str:
        """A passive log-in with the API key: "name:session" for the socket's auth."""
        try:
            user = await self._request("log in", "POST", "/api/login", {"passive": True})
        except PermanentDriverError as exc:
            if "(404)" in exc.message or "(405)" in exc.message:
                raise PushUnavailable(exc.message) from None
            raise
        if not isinstance(user, dict) or not user.get("name") or not user.get("session"):
            raise PushUnavailable("the log-in gave no session")
        return f"{user['name']}:{user['session']}"

    async def socket(self, *, throttle: int) -> aiohttp.ClientWebSocketResponse:
        """The push socket, logged in and subscribed; the caller closes it."""
        auth = await self.login()
        ws_url = urlsplit(self.url)
        scheme = "wss" if ws_url.scheme == "https" else "ws"
        target = ws_url._replace(scheme=scheme, path=ws_url.path + "/sockjs/websocket").geturl()
        try:
            async with asyncio.timeout(self.timeout_s):
                # No pings: the `current` messages are the heartbeat (see `messages`).
                ws = await self.session.ws_connect(
                    target, timeout=aiohttp.ClientWSTimeout(ws_close=2.0)
                )
        except TimeoutError:
            raise self._unreachable(f"no answer within {self.timeout_s:g} s") from None
        except aiohttp.WSServerHandshakeError as exc:
            raise PushUnavailable(f"no push socket ({exc.status})") from None
        except aiohttp.ClientError as exc:
            raise self._unreachable(f"the socket failed ({exc.__class__.__name__})") from None
        for message in ({"subscribe": SUBSCRIBE}, {"throttle": throttle}, {"auth": auth}):
            await ws.send_str(json.dumps(message))
        return ws

    async def messages(
        self, ws: aiohttp.ClientWebSocketResponse, *, silence_s: float
    ) -> AsyncIterator[tuple[str, Any]]:
        """(type, payload) of each message until the socket closes or stays silent too long
        (OctoPrint sends `current` every few seconds while it is there)."""
        while True:
            try:
                message = await ws.receive(timeout=silence_s)
            except TimeoutError:
                return
            if message.type is not aiohttp.WSMsgType.TEXT:
                if message.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.ERROR,
                ):
                    return
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                continue
            if isinstance(data, dict):
                for kind, payload in data.items():
                    yield str(kind), payload
