"""`bench_dashboard --browser`: the fleet view's first load as an operator sees it, in
headless Chromium (Selenium and Debian's chromedriver, as the browser tests use them).

The seeded farm is served by Django's threaded WSGI server on a free port of 127.0.0.1 (in
this process, on the bench database; static files through WhiteNoise as in production), the
browser signs in with a session cookie and opens /operator/fleet/ a few times; from the
browser's Navigation Timing: the response's end (the server's time and the transfer), the
DOM ready, the load event (the fleet drawn: the server renders every card, the page's one
script wires them up at the end) and the first contentful paint, each in ms from the
navigation's start.
"""

from __future__ import annotations

import shutil
import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import User
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from django.test import Client

TIMING = (
    "var n = performance.getEntriesByType('navigation')[0];"
    " var p = performance.getEntriesByName('first-contentful-paint')[0];"
    " return {response_end: n.responseEnd, dom_content_loaded: n.domContentLoadedEventEnd,"
    " load_event_end: n.loadEventEnd, first_contentful_paint: p ? p.startTime : null,"
    " transfer_bytes: n.transferSize, cards: document.querySelectorAll('[data-printer-id]').length};"
)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request log line per load would drown the report


@contextmanager
def served() -> Iterator[str]:
    """The farm's WSGI application on a free port of 127.0.0.1 until the block ends."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def first_loads(*, username: str, loads: int = 5) -> dict[str, Any]:
    """Medians (and the worst) of `loads` first loads of the fleet view in Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        raise RuntimeError("--browser needs chromium and chromedriver (Debian: chromium-driver)")
    client = Client()
    client.force_login(User.objects.get(username=username))
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        with served() as base:
            browser.get(base + "/accounts/login/")
            browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value})
            browser.get(base + "/operator/fleet/")  # warm: templates, static files, cache
            samples = []
            for _ in range(loads):
                browser.get(base + "/operator/fleet/")
                samples.append(browser.execute_script(TIMING))
    finally:
        browser.quit()
    keys = ("response_end", "dom_content_loaded", "load_event_end", "first_contentful_paint")
    return {
        **{f"{key}_ms_median": _median(samples, key) for key in keys},
        "load_event_end_ms_max": round(max(s["load_event_end"] for s in samples), 1),
        "transfer_bytes": samples[-1]["transfer_bytes"],
        "cards": samples[-1]["cards"],
        "samples": len(samples),
    }


def _median(samples: list[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in samples if s[key] is not None]
    return round(statistics.median(values), 1) if values else None
