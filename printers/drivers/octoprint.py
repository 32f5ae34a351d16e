"""OctoPrint printers (OctoPrint 1.9 to 1.11), through octorest 0.4 where it works.

Settings: `url` (may carry a path prefix, e.g. https://farm.lan/octoprint/mk4-07), `api_key`
(handed in decrypted by the farm, never stored in connection settings), `timeout_s`, and the
serial `port` and `baud` OctoPrint connects to its printer with (empty: OctoPrint's own saved
preference, else its auto-detection).

OctoPrint starts "not connected to the printer" after every restart unless it autoconnects.
`status()` notices that and asks OctoPrint to connect, again with back-off while it stays
unconnected (`connect_delay_s`); the fleet link keeps one driver per printer, so the attempts
are counted across its polls. A printer that fell into an error while connected is left to a
person (a reconnect resets the board): `connect()` (the operator's Connect) is the way out.

Where octorest 0.4 is broken against current OctoPrint we go around it here, in `_Session` and
`OctoPrintDriver._upload`, and nowhere else:
- it keeps only scheme and host of the URL, and joins absolute paths, so a path prefix (an
  OctoPrint behind a reverse proxy) is lost: `_Session` puts the prefix back on every request;
- it sends upload's `select`/`print` as a JSON body next to the multipart file, which requests
  silently drops, so the flags never reach the server: `_upload` posts them as form fields;
- it sets no timeout, so a hung server hangs the worker: `_Session` sets one;
- it takes any 2xx body for OctoPrint's JSON, so a captive portal's HTML page raised deep in
  `response.json()`: `_Session` refuses a body that is not JSON, with a plain reason;
- its errors are a bare RuntimeError with the status in the text: `_Session` keeps the last
  status code, and `_call` turns it into a transient or a permanent driver error.
Everything else (version, connection, job commands with an explicit pause action, printer
state, profiles, file info) is octorest, tested against a real OctoPrint in
tests/printers/test_octoprint_contract.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from octorest import OctoRest

from printers.drivers.base import (
    Capabilities,
    DeviceStatus,
    Driver,
    DriverError,
    PermanentDriverError,
    TransientDriverError,
    register,
)
from printers.drivers.multipart import MultipartFile
from printers.states import ACTIVE_STATES, DeviceState

T = TypeVar("T")

# OctoPrint's state strings (octoprint.util.comm.getStateString) onto ours, in one table.
# "Operational" is READY, or FINISHED when the selected file just printed to the end.
STATE_TABLE: dict[str, DeviceState] = {
    "Offline": DeviceState.OFFLINE,
    "Opening serial connection": DeviceState.CONNECTING,
    "Detecting serial connection": DeviceState.CONNECTING,
    "Connecting": DeviceState.CONNECTING,
    "Operational": DeviceState.READY,
    "Starting": DeviceState.STARTING,
    "Starting print from SD": DeviceState.STARTING,
    "Printing": DeviceState.PRINTING,
    "Printing from SD": DeviceState.PRINTING,
    "Resuming": DeviceState.PRINTING,
    "Finishing": DeviceState.PRINTING,
    "Pausing": DeviceState.PAUSING,
    "Paused": DeviceState.PAUSED,
    "Cancelling": DeviceState.CANCELLING,
    "Error": DeviceState.ERROR,
    "Offline after error": DeviceState.ERROR,
    "Sending file to SD": DeviceState.CONNECTING,
    "Starting to send file to SD": DeviceState.CONNECTING,
    "Transferring file to SD": DeviceState.CONNECTING,
}


def map_state(text: str, *, job_name: str, completion: float | None) -> DeviceState:
    state = STATE_TABLE.get(text)
    if state is None:
        state = DeviceState.ERROR if text.startswith("Error") else DeviceState.OFFLINE
    if state is DeviceState.READY and job_name and completion is not None and completion >= 100:
        return DeviceState.FINISHED
    return state


def http_error(url: str, what: str, status: int | None, text: str, *, html: bool) -> DriverError:
    """The driver error for OctoPrint's answer `status` to a request to `what` (shared with
    the fleet link's asynchronous client, printers/drivers/octoprint_link.py)."""
    if status in (401, 403):
        return PermanentDriverError(
            f"wrong API key: OctoPrint at {url} rejected the API key ({status}); "
            "check the key in the printer's settings"
        )
    if status == 409:
        return TransientDriverError(
            f"OctoPrint refused to {what} now (409: printer busy or not operational)"
        )
    if status is not None and status >= 500:
        return TransientDriverError(f"unreachable: OctoPrint failed to {what} ({status}) ({url})")
    if html:
        return PermanentDriverError(
            f"OctoPrint refused to {what} ({status}) with an HTML page, not OctoPrint's "
            f"API: check the URL {url}"
        )
    return PermanentDriverError(f"OctoPrint refused to {what} ({status}): {text[-200:]}")


class BadAnswer(Exception):
    """A server answered, but not as OctoPrint's API does (an HTML page, garbage, no JSON)."""


def describe_body(content_type: str, body: bytes) -> str | None:
    """Why a 2xx answer is not OctoPrint's JSON, for people; None when it is JSON (or empty)."""
    if not body.strip():
        return None
    start = body.lstrip()[:200].lower()
    if "html" in content_type.lower() or start.startswith((b"<!doctype", b"<html", b"<")):
        return "answered with an HTML page, not OctoPrint's API"
    try:
        json.loads(body)
    except ValueError:
        return "answered with something that is not JSON, not OctoPrint's API"
    return None


class _Session(requests.Session):
    """requests.Session that restores the URL's path prefix, sets a timeout, refuses answers
    that are not JSON, and remembers the last status code (octorest's errors carry it only as
    text)."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        super().__init__()
        self.prefix = urlsplit(base_url).path.rstrip("/")
        self.timeout_s = timeout_s
        self.last_status: int | None = None
        self.last_html = False
        self.headers["X-Api-Key"] = api_key

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = url.decode() if isinstance(url, bytes) else url
        parts = urlsplit(url)
        if self.prefix and not parts.path.startswith(self.prefix + "/"):
            url = parts._replace(path=self.prefix + parts.path).geturl()
        kwargs.setdefault("timeout", self.timeout_s)
        self.last_status = None
        response = super().request(method, url, *args, **kwargs)
        self.last_status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        reason = describe_body(content_type, response.content)
        self.last_html = reason is not None and "HTML" in reason
        if 200 <= response.status_code < 300 and reason is not None:
            raise BadAnswer(reason)
        return response


def connect_delay_s(attempt: int) -> float:
    """How long to wait after connect attempt `attempt` (1, 2, ...) before the next one."""
    return float(min(300, 5 * 2 ** (attempt - 1)))


def connecting_status(current: DeviceStatus, attempt: int, failure: str) -> DeviceStatus:
    """What a printer whose OctoPrint we are asking to connect reports meanwhile."""
    message = f"not connected to the printer: connecting (attempt {attempt})"
    if failure:
        message = f"{message}; {failure}"
    return DeviceStatus(DeviceState.OFFLINE, job_name=current.job_name, message=message)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_job(job: dict[str, Any]) -> tuple[str, DeviceStatus]:
    """GET /api/job -> (OctoPrint's state text, our status without temperatures).

    Raises TypeError or ValueError on JSON that is not OctoPrint's job answer.
    """
    if not isinstance(job, dict):
        raise TypeError("the job is not a JSON object")
    text = job.get("state") or "Offline"
    if not isinstance(text, str):
        raise TypeError("the state is not text")
    file = (job.get("job") or {}).get("file") or {}
    name = str(file.get("name") or "")
    progress = job.get("progress") or {}
    completion = _number(progress.get("completion"))
    state = map_state(text, job_name=name, completion=completion)
    message = ""
    if state is DeviceState.ERROR:
        message = f"firmware error: {job.get('error') or text}"
    return text, DeviceStatus(
        state,
        job_name=name,
        progress=completion / 100 if completion is not None else None,
        seconds_left=_number(progress.get("printTimeLeft")),
        message=message,
    )


@register
class OctoPrintDriver(Driver):
    kind = "octoprint"

    def __init__(self, *, device_id: str, settings: dict[str, Any]) -> None:
        super().__init__(device_id=device_id, settings=settings)
        url = str(settings.get("url") or "").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PermanentDriverError(
                f"OctoPrint URL must be http(s)://host[:port][/path]: {url!r}"
            )
        api_key = str(settings.get("api_key") or "")
        if not api_key:
            raise PermanentDriverError("OctoPrint needs an API key")
        self.url = url
        self.timeout_s = float(settings.get("timeout_s") or 10)
        self.session = _Session(url, api_key, self.timeout_s)
        self.client = OctoRest(url=url, session=self.session)  # no apikey: no request yet
        # Our own connect attempts since OctoPrint was last seen connected (see status()).
        self.connect_attempts = 0
        self._next_connect_at = 0.0

    # ---- errors ------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one request; whatever goes wrong becomes a driver error with a plain reason."""
        try:
            return fn()
        except requests.Timeout:
            raise self._unreachable(f"no answer within {self.timeout_s:g} s") from None
        except requests.ConnectionError:
            raise self._unreachable("cannot connect (refused, or no route)") from None
        except requests.RequestException as exc:
            raise self._unreachable(f"the request failed ({exc.__class__.__name__})") from None
        except BadAnswer as exc:
            raise self._unreachable(str(exc)) from None
        except RuntimeError as exc:  # octorest's "not 2xx"
            raise self._error(what, self.session.last_status, str(exc)) from None
        except (ValueError, TypeError, KeyError, AttributeError):
            # JSON, but not the shape OctoPrint answers with (another service on that port).
            raise self._unreachable("answered with JSON that is not OctoPrint's API") from None

    def _unreachable(self, reason: str) -> TransientDriverError:
        return TransientDriverError(f"unreachable: {reason} ({self.url})")

    def _error(self, what: str, status: int | None, text: str) -> DriverError:
        return http_error(self.url, what, status, text, html=self.session.last_html)

    # ---- reading -----------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        version = self._call("read its version", self.client.get_version)
        if not isinstance(version, dict):
            raise self._unreachable("answered with JSON that is not OctoPrint's API")
        return version

    def status(self) -> DeviceStatus:
        """The status, with the reason in `message` when the printer cannot be used.

        Asks OctoPrint to connect when it is not connected to the printer (see the module).
        Never raises: a printer we cannot read is OFFLINE with the reason.
        """
        try:
            current = self._status()
        except DriverError as exc:
            return DeviceStatus(DeviceState.OFFLINE, message=exc.message)
        if current.state is DeviceState.OFFLINE:
            return self._connect_again(current, "")
        if current.state is DeviceState.ERROR and self.connect_attempts:
            # Our own connect failed ("Offline after error"): not the firmware's fault to
            # hand to a person yet; the printer may just be switched off. Try again later.
            return self._connect_again(current, current.message.removeprefix("firmware error: "))
        if current.state is not DeviceState.CONNECTING:
            self.connect_attempts = 0  # connected (or a real error while connected)
        return current

    def _connect_again(self, current: DeviceStatus, failure: str) -> DeviceStatus:
        now = time.monotonic()
        if now >= self._next_connect_at:
            self.connect_attempts += 1
            self._next_connect_at = now + connect_delay_s(self.connect_attempts)
            try:
                self.connect()
            except DriverError as exc:
                failure = exc.message
        return connecting_status(current, self.connect_attempts, failure)

    def _status(self, *, with_temperatures: bool = True) -> DeviceStatus:
        """The status as OctoPrint reports it, raising when OctoPrint cannot be asked
        (without temperatures: one request, the job's, all a dispatch needs)."""
        job = self._call("read the job", self.client.job_info)
        text, status = self._call("read the job", lambda: parse_job(job))
        if status.state in (DeviceState.OFFLINE, DeviceState.CONNECTING):
            if text not in STATE_TABLE:  # e.g. "Closed": say what OctoPrint said
                status = replace(status, message=f"OctoPrint says {text!r}")
            return status
        if not with_temperatures:
            return status
        try:
            printer = self._call("read the printer", lambda: self.client.printer(exclude=["sd"]))
        except TransientDriverError:
            printer = {}  # 409 between a disconnect and our request: no temperatures
        temperatures: dict[str, float] = {}
        sensors = printer.get("temperature") if isinstance(printer, dict) else None
        for sensor, values in (sensors if isinstance(sensors, dict) else {}).items():
            actual = _number(values.get("actual")) if isinstance(values, dict) else None
            if actual is not None:
                temperatures[str(sensor)] = actual
        return replace(status, temperatures=temperatures)

    def capabilities(self) -> Capabilities:
        version = self.version()
        profiles = self._call("read printer profiles", self.client.printer_profiles)
        return self._call("read printer profiles", lambda: _capabilities(version, profiles))

    def connection_state(self) -> str:
        return str(self._call("read the connection", self.client.state))

    # ---- commands ----------------------------------------------------------------------

    def connect(self) -> None:
        """Ask OctoPrint to connect to its printer (async on its side: watch status()).

        With the printer's `port` and `baud` settings when given; otherwise OctoPrint uses its
        own saved preference, or auto-detects when it has none (OctoPrint's API semantics).
        """
        port = str(self.settings.get("port") or "") or None
        baud = self.settings.get("baud")
        baudrate = int(baud) if baud not in (None, "") else None
        self._call(
            "connect to the printer",
            lambda: self.client.connect(port=port, baudrate=baudrate),
        )

    def start(self, *, job_name: str, gcode_path: Path, expected_seconds: float) -> None:
        # Unreachable: a transient error; the key rejected: a permanent one.
        current = self._status(with_temperatures=False)
        if current.job_name == job_name and current.state in ACTIVE_STATES | {DeviceState.FINISHED}:
            return  # this run is on the printer already: a repeated dispatch does nothing
        if current.state in ACTIVE_STATES:
            raise TransientDriverError(f"printer is busy with {current.job_name}")
        if current.state is DeviceState.ERROR:
            raise PermanentDriverError(f"printer is in error: {current.message}")
        if current.state is DeviceState.OFFLINE:
            # OctoPrint answers, but has no connection to the printer.
            self.connect()
            raise TransientDriverError(
                "OctoPrint was not connected to the printer; asked it to connect"
            )
        if current.state is not DeviceState.READY and current.state is not DeviceState.FINISHED:
            raise TransientDriverError(f"printer is {current.state.value}: {current.message}")
        if not gcode_path.is_file():
            raise PermanentDriverError(f"no such G-code file: {gcode_path.name}")
        answer = self._upload(gcode_path, job_name, select=True, print_=True)
        if not answer.get("effectivePrint"):
            # Stored but not started (OctoPrint decides at upload time, e.g. it just went busy).
            raise TransientDriverError(
                f"OctoPrint stored {job_name} but did not start it (effectivePrint false)"
            )

    def _upload(self, path: Path, name: str, *, select: bool, print_: bool) -> dict[str, Any]:
        """POST /api/files/local with select/print as form fields (octorest drops them), the
        file streamed from storage as it is sent (`MultipartFile`: requests' own `files=`
        would build the whole body in memory, once per printer of a parallel dispatch)."""

        def post() -> dict[str, Any]:
            fields = {"select": str(select).lower(), "print": str(print_).lower()}
            with MultipartFile(fields=fields, file_field="file", path=path, file_name=name) as body:
                response = self.session.post(
                    f"{self.url}/api/files/local",
                    data=body,
                    headers={"Content-Type": body.content_type},
                )
            self.client._check_response(response)  # octorest's check: RuntimeError if not 2xx
            result: dict[str, Any] = response.json()
            return result

        return self._call(f"upload {name}", post)

    def pause(self) -> None:
        self._call("pause", self.client.pause)  # sends action=pause: never the toggle

    def resume(self) -> None:
        self._call("resume", self.client.resume)  # action=resume

    def cancel(self) -> None:
        self._call("cancel", self.client.cancel)

    def clear_error(self) -> None:
        """OctoPrint leaves its error state by reconnecting."""
        self.connect()


def _capabilities(version: dict[str, Any], profiles: dict[str, Any]) -> Capabilities:
    listed = list((profiles.get("profiles") or {}).values())
    current = [p for p in listed if p.get("current")] or [p for p in listed if p.get("default")]
    chosen: dict[str, Any] = current[0] if current else {}
    volume = chosen.get("volume") or {}
    build = None
    if all(k in volume for k in ("width", "depth", "height")):
        build = (float(volume["width"]), float(volume["depth"]), float(volume["height"]))
    return Capabilities(
        firmware=f"OctoPrint {version.get('server', '?')}",
        build_volume_mm=build,
        extras={
            "api": version.get("api"),
            "profile": chosen.get("id", ""),
            "model": chosen.get("model", ""),
        },
    )
