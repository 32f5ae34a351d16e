"""Servers that answer where an OctoPrint should, but not as OctoPrint does.

A captive portal or a reverse proxy's error page (200 with HTML), garbage that claims to be
JSON, JSON of another shape, a 500, and one too slow to wait for: each on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# mode -> (status, content type, body)
ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "html": (200, "text/html", b"<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>"),
    "garbage": (200, "application/json", b'{"state": "Oper'),
    "other-json": (200, "application/json", b"[1, 2, 3]"),
    "error-500": (500, "text/html", b"<html><body>Internal Server Error</body></html>"),
    "slow": (200, "application/json", b"{}"),
}
SLOW_S = 3.0


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "html"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.mode == "slow":
            time.sleep(SLOW_S)
        status, content_type, body = ANSWERS[self.mode]
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting (the slow mode): that is the point

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def bad_server(mode: str) -> Iterator[str]:
    """The URL of a server answering every request the `mode` way (see ANSWERS)."""
    handler = type("Bad", (_Handler,), {"mode": mode})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
