"""`python manage.py run_farm [--port N]`: web, the two worker pools, beat and the fleet link.

What `make run` starts. Each process's output is prefixed with its name. A process that dies
is started again after a back-off (1 s, doubling to 30 s; back to 1 s once it has run for a
minute), and the supervisor says so; one Ctrl-C stops them all.

Slicing has a worker pool of its own (queue `slicing`, one process, a memory limit per slice),
so however long the slices take, dispatch and scheduling always have a worker.

On one machine the worker is every site's worker: it consumes `default` and the queue of every
site (`site.<slug>`, its printers' dispatches and commands), the list read from the database.
The supervisor reads the sites again every few seconds and restarts the worker when one was
added (or removed), so a new site never waits on a queue nobody consumes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from farm.management.commands.seed_demo import LOGINS_FILE
from farm.models import Site
from farm.task_names import Queue, site_queue

SLICING_CHILD_MEMORY_KB = 1_000_000
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a process that ran this long starts its back-off from the start
SITES_POLL_S = 5.0  # how often the supervisor looks for added or removed sites


def site_slugs() -> list[str]:
    """Every site's slug, read now (the connection is closed again: the supervisor holds
    none between its looks)."""
    try:
        return list(Site.objects.order_by("slug").values_list("slug", flat=True))
    finally:
        if not connection.in_atomic_block:  # (a test's transaction keeps it)
            connection.close()


def worker_queues(sites: list[str]) -> str:
    """The embedded worker's queues: scheduling and sweeps, and every site's dispatches."""
    return ",".join([Queue.DEFAULT.value, *(site_queue(slug) for slug in sites)])


def processes(port: int, *, sites: list[str] | None = None) -> dict[str, list[str]]:
    """The commands `make run` supervises; the worker serves `sites` (default: every site in
    the database)."""
    if sites is None:
        sites = site_slugs()
    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    return {
        # The production server with its production configuration (farm/gunicorn_conf.py).
        "web": [
            python,
            "-m",
            "gunicorn",
            "--config",
            "python:farm.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        "slicing": [
            celery,
            "-A",
            "farm",
            "worker",
            "-Q",
            Queue.SLICING.value,
            "--concurrency",
            "1",
            # A child that grew past this after a slice is replaced (fragmented memory is not
            # returned); a single slice is bounded by FARM_SLICE_MEMORY_MB in the task.
            "--max-memory-per-child",
            str(SLICING_CHILD_MEMORY_KB),
            "--loglevel",
            "WARNING",
            "-n",
            "farm-slicing@%h",
        ],
        "worker": [
            celery,
            "-A",
            "farm",
            "worker",
            "-Q",
            worker_queues(sites),
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


@dataclass
class Restarts:
    """When a dead process is due to start again: back-off doubling from 1 s to 30 s, reset
    once the process has stayed up a minute (so a crash loop does not spin the machine)."""

    count: int = 0
    delay: float = 0.0
    due: float | None = None
    started_at: float = field(default_factory=time.monotonic)

    def exited(self, now: float) -> float:
        if now - self.started_at >= HEALTHY_AFTER_S:
            self.delay = 0.0
        self.delay = min(BACKOFF_MAX_S, self.delay * 2 if self.delay else BACKOFF_FIRST_S)
        self.count += 1
        self.due = now + self.delay
        return self.delay

    def started(self, now: float) -> None:
        self.due = None
        self.started_at = now

    def replace(self, now: float) -> None:
        """Start the process again at once with a new command (not a crash: no back-off)."""
        self.due = now


class Command(BaseCommand):
    help = "Run the whole farm in the foreground: web, workers, beat and the fleet link."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        sites = site_slugs()
        commands = processes(port, sites=sites)
        children: dict[str, subprocess.Popen[str]] = {}
        stopping = threading.Event()

        def stop(*_: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in commands.items():
            children[name] = self._start(name, command)
        self._banner(port)
        restarts = {name: Restarts() for name in commands}
        sites_seen_at = time.monotonic()
        try:
            while not stopping.is_set():
                now = time.monotonic()
                if now - sites_seen_at >= SITES_POLL_S:
                    sites_seen_at = now
                    sites = self._follow_sites(sites, commands, children, restarts["worker"], now)
                for name, child in list(children.items()):
                    if name not in restarts:  # a worker replaced for new sites, stopping
                        if child.poll() is not None:
                            del children[name]
                        continue
                    plan = restarts[name]
                    if plan.due is None and child.poll() is not None:
                        delay = plan.exited(now)
                        self.stderr.write(
                            f"{name} exited with code {child.returncode}; "
                            f"restarting it in {delay:.0f} s (restart {plan.count})"
                        )
                    if plan.due is not None and now >= plan.due:
                        children[name] = self._start(name, commands[name])
                        plan.started(now)
                        self.stderr.write(f"{name} restarted (pid {children[name].pid})")
                stopping.wait(0.5)
        finally:
            self._stop_all(children)

    def _follow_sites(
        self,
        sites: list[str],
        commands: dict[str, list[str]],
        children: dict[str, subprocess.Popen[str]],
        plan: Restarts,
        now: float,
    ) -> list[str]:
        """When sites were added or removed, restart the worker on the new list of queues (it
        finishes its current tasks first: a warm shutdown)."""
        try:
            current = site_slugs()
        except Exception as exc:  # the database is away: look again later
            self.stderr.write(f"could not read the sites: {exc}")
            return sites
        if current == sites:
            return sites
        added = sorted(set(current) - set(sites))
        removed = sorted(set(sites) - set(current))
        commands["worker"] = processes(0, sites=current)["worker"]
        self.stderr.write(
            f"sites changed (added: {', '.join(added) or '-'}; removed: "
            f"{', '.join(removed) or '-'}); restarting the worker on {worker_queues(current)}"
        )
        worker = children["worker"]
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            # It may still finish a task while the new one starts: stopped with the rest.
            children[f"worker (old {worker.pid})"] = worker
        plan.replace(now)
        return current

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # our Ctrl-C handling stops them in order
        )
        threading.Thread(target=self._pipe, args=(name, child.stdout), daemon=True).start()
        return child

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
            with contextlib.suppress(ProcessLookupError):
                # What a killed process left behind (a Celery pool's children) goes too.
                os.killpg(child.pid, signal.SIGKILL)
        self.stdout.write("The farm has stopped.")
