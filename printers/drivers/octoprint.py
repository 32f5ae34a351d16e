"""OctoPrint printers (OctoPrint 1.9 to 1.11), through octorest 0.4 where it works.

Settings: `url` (may carry a path prefix, e.g. https://farm.lan/octoprint/mk4-07), `api_key`
(handed in decrypted by the farm, never stored in connection settings), `timeout_s`.

Where octorest 0.4 is broken against current OctoPrint we go around it here, in `_Session` and
`OctoPrintDriver._upload`, and nowhere else:
- it keeps only scheme and host of the URL, and joins absolute paths, so a path prefix (an
  OctoPrint behind a reverse proxy) is lost: `_Session` puts the prefix back on every request;
- it sends upload's `select`/`print` as a JSON body next to the multipart file, which requests
  silently drops, so the flags never reach the server: `_upload` posts them as form fields;
- it sets no timeout, so a hung server hangs the worker: `_Session` sets one;
- its errors are a bare RuntimeError with the status in the text: `_Session` keeps the last
  status code, and `_call` turns it into a transient or a permanent driver error.
Everything else (version, connection, job commands with an explicit pause action, printer
state, profiles, file info) is octorest, tested against a real OctoPrint in
tests/printers/test_octoprint_contract.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from octorest import OctoRest

from printers.drivers.base import (
    Capabilities,
    DeviceStatus,
    Driver,
    PermanentDriverError,
    TransientDriverError,
    register,
)
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


class _Session(requests.Session):
    """requests.Session that restores the URL's path prefix, sets a timeout, and remembers the
    last status code (octorest's errors carry it only as text)."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        super().__init__()
        self.prefix = urlsplit(base_url).path.rstrip("/")
        self.timeout_s = timeout_s
        self.last_status: int | None = None
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
        return response


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
        self.session = _Session(url, api_key, float(settings.get("timeout_s") or 10))
        self.client = OctoRest(url=url, session=self.session)  # no apikey: no request yet

    # ---- errors ------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientDriverError(
                f"OctoPrint at {self.url} is unreachable ({what}): {exc.__class__.__name__}"
            ) from None
        except RuntimeError as exc:
            raise self._error(what, self.session.last_status, str(exc)) from None

    def _error(self, what: str, status: int | None, text: str) -> Exception:
        if status in (401, 403):
            return PermanentDriverError(
                f"OctoPrint at {self.url} rejected the API key ({status}); check the key in the printer's settings"
            )
        if status == 409:
            return TransientDriverError(
                f"OctoPrint refused to {what} now (409: printer busy or not operational)"
            )
        if status is not None and status >= 500:
            return TransientDriverError(f"OctoPrint failed to {what} ({status})")
        return PermanentDriverError(f"OctoPrint refused to {what} ({status}): {text[-200:]}")

    # ---- reading -----------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return self._call("read its version", self.client.get_version)

    def status(self) -> DeviceStatus:
        try:
            return self._status()
        except TransientDriverError as exc:
            return DeviceStatus(DeviceState.OFFLINE, message=exc.message)
        except PermanentDriverError as exc:
            # A rejected key will not fix itself: a person must look, so this is an error.
            return DeviceStatus(DeviceState.ERROR, message=exc.message)

    def _status(self) -> DeviceStatus:
        """The status, raising when OctoPrint cannot be asked (unreachable, key rejected)."""
        job = self._call("read the job", self.client.job_info)
        text = str(job.get("state") or "Offline")
        name = ((job.get("job") or {}).get("file") or {}).get("name") or ""
        progress = job.get("progress") or {}
        completion = progress.get("completion")
        state = map_state(text, job_name=name, completion=completion)
        temperatures: dict[str, float] = {}
        if state not in (DeviceState.OFFLINE, DeviceState.CONNECTING):
            try:
                printer = self._call(
                    "read the printer", lambda: self.client.printer(exclude=["sd"])
                )
            except TransientDriverError:
                printer = {}  # 409 between a disconnect and our request: no temperatures
            for sensor, values in (printer.get("temperature") or {}).items():
                if isinstance(values, dict) and values.get("actual") is not None:
                    temperatures[sensor] = float(values["actual"])
        message = str(job.get("error") or "") if state is DeviceState.ERROR else ""
        if state is DeviceState.ERROR and not message:
            message = text
        return DeviceStatus(
            state,
            job_name=name,
            progress=completion / 100 if completion is not None else None,
            seconds_left=progress.get("printTimeLeft"),
            temperatures=temperatures,
            message=message,
        )

    def capabilities(self) -> Capabilities:
        version = self.version()
        profiles = self._call("read printer profiles", self.client.printer_profiles)
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

    def connection_state(self) -> str:
        return str(self._call("read the connection", self.client.state))

    # ---- commands ----------------------------------------------------------------------

    def connect(self) -> None:
        """Ask OctoPrint to connect with its saved port and baud rate (async on its side)."""
        self._call("connect to the printer", self.client.connect)

    def start(self, *, job_name: str, gcode_path: Path, expected_seconds: float) -> None:
        current = self._status()  # unreachable: transient; key rejected: permanent
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
        """POST /api/files/local with select/print as form fields (octorest drops them)."""

        def post() -> dict[str, Any]:
            with path.open("rb") as handle:
                response = self.session.post(
                    f"{self.url}/api/files/local",
                    files={"file": (name, handle, "application/octet-stream")},
                    data={"select": str(select).lower(), "print": str(print_).lower()},
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
