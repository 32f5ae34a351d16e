"""The HTTP side of the emulator: OctoPrint's REST endpoints over `EmulatedPrinter`s."""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import re
import threading
from typing import Any
from urllib.parse import unquote

from printers.octoprint_emulator.state import Conflict, EmulatedPrinter, wall

VERSION = {"api": "0.1", "server": "1.11.8", "text": "OctoPrint 1.11.8 (farm emulator)"}
PORTS = ["VIRTUAL"]
BAUDRATES = [250000, 230400, 115200, 57600, 38400, 19200, 9600]
_ROUTE = re.compile(r"^(?:/printer/(\d+))?(/api/.*)$")


def parse_form(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """multipart/form-data -> {field: (filename, bytes)}, with the standard library only."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (
                part.get_filename() or "",
                payload if isinstance(payload, bytes) else b"",
            )
    return fields


class _Handler(http.server.BaseHTTPRequestHandler):
    server: EmulatorServer

    def log_message(self, *args: Any) -> None:
        pass  # load tests make thousands of requests

    def _reply(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[EmulatedPrinter, str] | None:
        match = _ROUTE.match(self.path.split("?", 1)[0])
        printer = None
        if match:
            printer = self.server.printers.get(int(match.group(1) or 0))
        if match is None or printer is None:
            self._reply(404, {"error": "Not found"})
            return None
        if self.headers.get("X-Api-Key") != self.server.api_key:
            self._reply(
                403, {"error": "You don't have the permission to access the requested resource."}
            )
            return None
        return printer, match.group(2)

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def do_GET(self) -> None:
        routed = self._route()
        if routed is None:
            return
        p, path = routed
        now = wall()
        if path == "/api/version":
            self._reply(200, VERSION)
        elif path == "/api/job":
            self._reply(200, p.job(now))
        elif path == "/api/connection":
            options = {
                "ports": PORTS,
                "baudrates": BAUDRATES,
                "printerProfiles": [{"id": "_default", "name": "Emulated"}],
                "portPreference": None,
                "baudratePreference": None,
                "printerProfilePreference": "_default",
                "autoconnect": False,
            }
            self._reply(200, {"current": p.connection(now), "options": options})
        elif path.startswith("/api/printer") and not path.startswith("/api/printerprofiles"):
            if p.state_text(now) in ("Offline", "Connecting"):
                self._reply(409, {"error": "Printer is not operational"})
                return
            text = p.job(now)["state"]
            temps = {
                "tool0": {"actual": 214.8, "target": 215.0},
                "bed": {"actual": 60.1, "target": 60.0},
            }
            flags = {
                "operational": True,
                "printing": text == "Printing",
                "paused": text == "Paused",
            }
            self._reply(200, {"state": {"text": text, "flags": flags}, "temperature": temps})
        elif path == "/api/printerprofiles":
            w, d, h = p.volume
            profile = {
                "id": "_default",
                "name": "Emulated",
                "model": "Farm emulator",
                "default": True,
                "current": True,
                "volume": {"width": w, "depth": d, "height": h, "formFactor": "rectangular"},
            }
            self._reply(200, {"profiles": {"_default": profile}})
        else:
            self._reply(404, {"error": "Not found"})

    def do_POST(self) -> None:
        routed = self._route()
        if routed is None:
            return
        p, path = routed
        now = wall()
        try:
            if path == "/api/files/local":
                self._upload(p, now)
            elif path.startswith("/api/files/local/"):
                body = self._json()
                if body.get("command") != "select":
                    self._reply(400, {"error": "unknown command"})
                    return
                p.select(
                    unquote(path[len("/api/files/local/") :]),
                    start=bool(body.get("print")),
                    now=now,
                )
                self._reply(204)
            elif path == "/api/job":
                body = self._json()
                p.command(str(body.get("command")), str(body.get("action") or ""), now)
                self._reply(204)
            elif path == "/api/connection":
                self._connection_command(p, self._json(), now)
            else:
                self._reply(404, {"error": "Not found"})
        except Conflict as exc:
            self._reply(409, {"error": str(exc)})
        except (KeyError, ValueError) as exc:
            self._reply(404 if isinstance(exc, KeyError) else 400, {"error": str(exc)})

    def _connection_command(self, p: EmulatedPrinter, body: dict[str, Any], now: float) -> None:
        """POST /api/connection, validated as OctoPrint 1.11 does (api/connection.py)."""
        command = body.get("command")
        if command == "connect":
            port = body.get("port", "AUTO")
            baudrate = body.get("baudrate", 0)
            if port not in PORTS and port != "AUTO":
                self._reply(400, {"error": "port is invalid"})
                return
            if baudrate not in BAUDRATES and baudrate != 0:
                self._reply(400, {"error": "baudrate is invalid"})
                return
            p.connect(
                port=PORTS[0] if port == "AUTO" else port,
                baudrate=baudrate or BAUDRATES[0],
                now=now,
            )
        elif command == "disconnect":
            p.disconnect(now)
        elif command != "fake_ack":
            self._reply(400, {"error": "command must be one of connect, disconnect, fake_ack"})
            return
        self._reply(204)

    def _upload(self, p: EmulatedPrinter, now: float) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_form(self.headers.get("Content-Type", ""), self.rfile.read(length))
        if "file" not in form:
            self._reply(400, {"error": "No file to upload and no folder to create"})
            return
        name, data = form["file"]
        flag = {
            k: form.get(k, ("", b"false"))[1].decode().lower() == "true"
            for k in ("select", "print")
        }
        selected, started = p.upload(
            name, data, select=flag["select"] or flag["print"], start=flag["print"], now=now
        )
        files = {"local": {"name": name, "origin": "local", "path": name}}
        self._reply(
            201,
            {"done": True, "files": files, "effectiveSelect": selected, "effectivePrint": started},
        )


class EmulatorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], *, printers: int, api_key: str, **options: Any
    ) -> None:
        super().__init__(address, _Handler)
        self.api_key = api_key
        self.printers = {i: EmulatedPrinter(**options) for i in range(printers)}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        threading.Thread(target=self.serve_forever, name="octoprint-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
