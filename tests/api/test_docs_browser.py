"""The API's docs page in a real headless Chromium, under the farm's content security policy:
Swagger UI draws every operation, and the browser reports no refused script, style, image
or font and no request to another host (drf-spectacular-sidecar serves the files)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from django.contrib.auth.models import User
from django.test import Client

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# integration: CI installs chromium (.ci/apt-packages), so there it must run, not skip
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
]


class Browser:
    """Just enough of the DevTools protocol: a cookie, a page, its log and a screenshot."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=20)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return dict(message.get("result", {}))
            self.events.append(message)

    def settle(self, seconds: float) -> None:
        """Collect what the page reports while it loads and draws."""
        self.ws.settimeout(0.2)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                continue
        self.ws.settimeout(20)

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression)["result"].get("value")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    assert CHROMIUM is not None
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",  # a free port, written to DevToolsActivePort
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pages: list[dict[str, Any]] = []
        port_file = tmp_path / "profile" / "DevToolsActivePort"
        for _ in range(200):
            try:
                port = port_file.read_text().split()[0]
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as answer:
                    pages = [p for p in json.load(answer) if p["type"] == "page"]
                break
            except (OSError, IndexError):
                time.sleep(0.1)
        assert pages, "Chromium did not open its DevTools port"
        yield Browser(pages[0]["webSocketDebuggerUrl"])
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_swagger_ui_draws_every_operation_under_the_csp(
    live_server: Any, browser: Browser, alice: User, tmp_path: Path
) -> None:
    client = Client()
    client.force_login(alice)
    session = client.cookies["sessionid"].value
    host = live_server.url.split("//", 1)[1].split(":")[0]
    browser.call("Network.setCookie", name="sessionid", value=session, domain=host, path="/")
    browser.call("Page.navigate", url=f"{live_server.url}/api/v1/docs/")
    drawn = 0
    for _ in range(60):  # until Swagger UI has drawn the operations (at most 30 s)
        browser.settle(0.5)
        drawn = browser.evaluate("document.querySelectorAll('.opblock').length")
        if drawn >= 14:
            break
    browser.settle(0.5)  # what the page reports right after drawing
    shot = browser.call("Page.captureScreenshot", format="png")["data"]
    (tmp_path / "docs.png").write_bytes(base64.b64decode(shot))
    log = [e["params"]["entry"] for e in browser.events if e.get("method") == "Log.entryAdded"]
    refused = [entry["text"] for entry in log if entry.get("source") == "security"]
    requested = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    elsewhere = [u for u in requested if not u.startswith((live_server.url, "data:"))]
    assert refused == []
    assert elsewhere == []
    assert drawn >= 14, f"Swagger UI drew {drawn} operations (screenshot: {tmp_path})"
