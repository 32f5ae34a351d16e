"""`python manage.py run_farm [--port N]`: web + worker + beat + fleet link in the foreground.

What `make run` starts. Each process's output is prefixed with its name; one Ctrl-C (or any
process dying) stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand

from farm.management.commands.seed_demo import LOGINS_FILE


def processes(port: int) -> dict[str, list[str]]:
    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    return {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [
            celery,
            "-A",
            "farm",
            "worker",
            "-Q",
            "slicing,dispatch,default",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "-n",
            "farm-worker@%h",
        ],
        "beat": [
            celery,
            "-A",
            "farm",
            "beat",
            "--loglevel",
            "WARNING",
        ],
        "fleetlink": [python, "manage.py", "fleetlink"],
    }


class Command(BaseCommand):
    help = "Run the whole farm in the foreground: web, worker, beat and the fleet link."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        children: dict[str, subprocess.Popen[str]] = {}
        stopping = threading.Event()

        def stop(*_: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in processes(port).items():
            child = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,  # our Ctrl-C handling stops them in order
            )
            children[name] = child
            threading.Thread(target=self._pipe, args=(name, child.stdout), daemon=True).start()
        self._banner(port)
        try:
            while not stopping.is_set():
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping")
                        stopping.set()
                stopping.wait(0.5)
        finally:
            self._stop_all(children)

    def _pipe(self, name: str, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            self.stdout.write(f"{name:>9} | {line.rstrip()}")

    def _banner(self, port: int) -> None:
        lines = [f"The farm is running: http://127.0.0.1:{port}/  (Ctrl-C stops everything)"]
        logins = Path(settings.VAR_DIR) / LOGINS_FILE
        if logins.exists():
            lines.append("Log-ins (role: user / password):")
            lines += ["  " + line for line in logins.read_text().splitlines()]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def _stop_all(self, children: dict[str, subprocess.Popen[str]]) -> None:
        for child in children.values():
            if child.poll() is None:
                # The main process only: a Celery worker stops its own pool (warm shutdown).
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        self.stdout.write("The farm has stopped.")
