"""A site's worker (`manage.py site_worker`, a real Celery worker process) takes its site's
dispatches off `site.<slug>` and uploads at most its concurrency at once.

The printers are OctoPrint stand-ins on one local HTTP server that holds each upload for a
while and counts how many are under way together. Runs on the embedded default (SQLite +
filesystem broker) in `make test`, and in CI again on PostgreSQL + Redis.
"""

from __future__ import annotations

import datetime
import http.server
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from farm import dispatch_bench
from farm.models import PrintRun
from farm.services.runs import RunRequest, runs_create
from farm.statuses import RunStatus
from tests.integration.processes import ROOT, process_env, purge_queues, wait_for
from tests.integration.test_worker_flow import _database_reachable

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

UPLOAD_HOLD_S = 1.0  # each upload is held this long, so the worker's uploads overlap
_PRINTER = re.compile(r"^/printer/(\d+)(/api/.*)$")


class _Printers(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.uploads = 0
        self.printing: dict[int, str] = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Printers

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        match = _PRINTER.match(self.path)
        if match is None or match.group(2) != "/api/job":
            self._reply(404, {"error": "Not found"})
            return
        name = self.server.printing.get(int(match.group(1)))
        self._reply(
            200,
            {
                "state": "Printing" if name else "Operational",
                "job": {"file": {"name": name}},
                "progress": {"completion": 0.0 if name else None},
            },
        )

    def do_POST(self) -> None:
        match = _PRINTER.match(self.path)
        if match is None or match.group(2) != "/api/files/local":
            self._reply(404, {"error": "Not found"})
            return
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        try:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(UPLOAD_HOLD_S)
        finally:
            with server.lock:
                server.in_flight -= 1
                server.uploads += 1
        name = re.search(rb'filename="([^"]+)"', body)
        server.printing[int(match.group(1))] = name.group(1).decode() if name else "?"
        self._reply(201, {"done": True, "effectivePrint": True})


@pytest.fixture
def printers() -> Iterator[_Printers]:
    server = _Printers()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_site_worker_dispatches_its_sites_runs_at_most_its_concurrency_at_once(
    printers: _Printers, tmp_path: Path
) -> None:
    _database_reachable()
    gcode = dispatch_bench.sample_gcode(tmp_path / "part.gcode", 0.2)
    job, fleet = dispatch_bench.seed(6, printers.server_address[1], gcode)
    purge_queues()
    log = tmp_path / "site-worker.log"
    command = [sys.executable, "manage.py", "site_worker", "--site", dispatch_bench.SITE]
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [*command, "--concurrency", "2"],
            cwd=ROOT,
            env=process_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            now = timezone.now()
            hour = datetime.timedelta(hours=1)
            started = runs_create([RunRequest(job.pk, p, 1, now, now + hour) for p in fleet])
            assert len(started.runs) == 6

            def all_printing() -> bool:
                runs = PrintRun.objects.filter(job=job, status=RunStatus.PRINTING)
                return runs.count() == 6

            wait_for(all_printing, timeout=120, what="six runs printing", logs=tmp_path)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert printers.uploads == 6
    assert printers.most_in_flight == 2  # parallel, and never more than the site's bound
