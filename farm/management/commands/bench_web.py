"""`python manage.py bench_web --clients 200 --seconds 60 --json`: the web under load.

Starts the production server (gunicorn, farm/gunicorn_conf.py) on a bench database of its own
(`farm_bench_web`, created anew on the PostgreSQL of FARM_DATABASE_URL, dropped at the end) and on
Redis database 14 of FARM_REDIS_URL's server, logs in employees and operators, runs the mix of
farm.webbench against it from 127.0.0.1, and reports requests per second, p50/p99 per endpoint,
errors by kind and the most PostgreSQL connections seen (pg_stat_activity, polled every 0.1 s)
against the budget. No worker runs: submissions are accepted and queued, and the queued slicing
tasks are deleted at the end, so the bench measures the web alone. Everything it starts stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from farm.connections import ConnectionBudget
from farm.management.commands.run_farm import processes
from farm.webbench import Account, run_load

BENCH_DB = "farm_bench_web"  # its own: bench_farm_pass uses farm_bench
BENCH_REDIS_DB = 14
CACHE_PREFIX = "farm-bench"
QUEUES = ("slicing", "dispatch", "default")


def cube_stl() -> bytes:
    """A small real mesh: a 20 mm cube as binary STL (12 triangles)."""
    import trimesh

    return bytes(trimesh.creation.box(extents=(20, 20, 20)).export(file_type="stl"))


def seed(*, employees: int, operators: int, password: str, jobs_each: int) -> None:
    """The bench farm, through the real services (run inside the bench's own database)."""
    from django.contrib.auth.models import Group, User
    from django.core.files.uploadedfile import SimpleUploadedFile

    from farm.models import Material, Printer, Site
    from farm.roles import EMPLOYEE, OPERATOR
    from farm.services.submission import job_submit

    cube = cube_stl()
    site = Site.objects.create(name="Bench", slug="bench", timezone="UTC")
    pla = Material.objects.create(name="PLA")
    for n in range(12):
        Printer.objects.create(
            name=f"bench-{n:02d}",
            site=site,
            model="Prusa MK4",
            material=pla,
            colour="black",
            connection_kind="simulated",
            state="ready",
        )
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (EMPLOYEE, OPERATOR)}
    for n in range(employees):
        user = User.objects.create_user(username=f"employee{n}", password=password)
        user.groups.add(groups[EMPLOYEE])
        for j in range(jobs_each):
            job_submit(
                owner=user,
                upload=SimpleUploadedFile(f"part-{n}-{j}.stl", cube),
                material=pla,
                quantity=1 + j,
            )
    for n in range(operators):
        User.objects.create_user(username=f"operator{n}", password=password).groups.add(
            groups[OPERATOR]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ConnectionWatch(threading.Thread):
    """Polls pg_stat_activity for the bench database's connections; keeps the peak."""

    def __init__(self, maintenance_url: str) -> None:
        super().__init__(daemon=True, name="pg-watch")
        self.url = maintenance_url
        self.peak = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (BENCH_DB,)
                ).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)
                self.samples += 1
                self.stopping.wait(0.1)


class Command(BaseCommand):
    help = "Benchmark the production web server on PostgreSQL + Redis (see README, Production)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--clients", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=30)
        parser.add_argument(
            "--think", type=float, default=0.5, help="mean pause between a client's requests (s)"
        )
        parser.add_argument("--accounts", type=int, default=40, help="users logged in (at most)")
        parser.add_argument("--max-submissions", type=int, default=300)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        clients = options["clients"]
        seconds = options["seconds"]
        if not (1 <= clients <= 1000 and 1 <= seconds <= 600):
            raise CommandError("--clients must be 1..1000 and --seconds 1..600")
        server_url = os.environ.get("FARM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
        redis_url = os.environ.get("FARM_REDIS_URL", "redis://127.0.0.1:6379/0")
        pg = urlsplit(server_url)
        rd = urlsplit(redis_url)
        if pg.scheme not in ("postgres", "postgresql") or rd.scheme != "redis":
            raise CommandError("bench_web needs FARM_DATABASE_URL=postgres://... and redis://")
        maintenance = urlunsplit(pg._replace(path="/postgres"))
        bench_db_url = urlunsplit(pg._replace(path=f"/{BENCH_DB}"))
        bench_redis = urlunsplit(rd._replace(path=f"/{BENCH_REDIS_DB}"))
        workdir = Path(tempfile.mkdtemp(prefix="farm-bench-"))
        password = secrets.token_urlsafe(12)
        env = {
            **os.environ,
            "FARM_DATABASE_URL": bench_db_url,
            "FARM_REDIS_URL": bench_redis,
            "FARM_CACHE_PREFIX": CACHE_PREFIX,
            "FARM_VAR_DIR": str(workdir),
            "FARM_SECRET_KEY": secrets.token_urlsafe(50),
            "FARM_DEBUG": "false",
            "FARM_HTTPS": "false",
        }
        accounts_n = max(1, min(options["accounts"], clients))
        operators = max(1, accounts_n // 5)
        employees = max(1, accounts_n - operators)
        budget: ConnectionBudget = settings.FARM_CONNECTIONS
        server: subprocess.Popen[bytes] | None = None
        watch = ConnectionWatch(maintenance)
        try:
            self._log(options, f"creating {BENCH_DB} and seeding {employees}+{operators} users")
            self._recreate_database(maintenance)
            self._manage(env, "migrate", "--noinput", "-v", "0")
            code = (
                "from farm.management.commands.bench_web import seed; "
                f"seed(employees={employees}, operators={operators}, "
                f"password={password!r}, jobs_each=3)"
            )
            self._manage(env, "shell", "-c", code)
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            log = (workdir / "gunicorn.log").open("wb")
            server = subprocess.Popen(
                processes(port)["web"],  # exactly what `make run` and production start
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._wait_ready(base_url, server)
            watch.start()
            accounts = [Account(f"employee{n}", password, False) for n in range(employees)] + [
                Account(f"operator{n}", password, True) for n in range(operators)
            ]
            self._log(options, f"{clients} clients for {seconds:g} s against {base_url}")
            report = asyncio.run(
                run_load(
                    base_url=base_url,
                    accounts=accounts,
                    clients=clients,
                    seconds=seconds,
                    think_seconds=options["think"],
                    submission={
                        "name": "bench-cube.stl",
                        "content": cube_stl(),
                        "fields": {"material": self._pla_id(env), "quantity": 1, "priority": 0},
                    },
                    max_submissions=options["max_submissions"],
                )
            )
        except BaseException:
            server_log = workdir / "gunicorn.log"
            if server_log.exists():
                self.stderr.write(server_log.read_text(errors="replace")[-4000:])
            raise
        finally:
            watch.stopping.set()
            if server is not None:
                self._stop(server)
            if watch.is_alive():
                watch.join(5)
            self._clean_redis(bench_redis)
            self._drop_database(maintenance)
            shutil.rmtree(workdir, ignore_errors=True)
        report.update(
            {
                "clients": clients,
                "think_seconds": options["think"],
                "accounts": {"employees": employees, "operators": operators},
                "server": {
                    "gunicorn_workers": budget.web_workers,
                    "threads_per_worker": budget.threads,
                },
                "pg_connections": {
                    "peak": watch.peak,
                    "web_budget": budget.web_connections,
                    "total_budget": budget.total,
                    "within_budget": watch.peak <= budget.web_connections,
                    "samples": watch.samples,
                },
                "note": "no Celery worker ran: submissions were queued and the queue deleted",
            }
        )
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._print(report)

    def _log(self, options: dict[str, Any], message: str) -> None:
        self.stderr.write(f"bench_web: {message}")

    def _manage(self, env: dict[str, str], *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise CommandError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def _pla_id(self, env: dict[str, str]) -> int:
        out = self._manage(
            env,
            "shell",
            "-c",
            "from farm.models import Material; print(Material.objects.get(name='PLA').pk)",
        )
        return int(out.strip().splitlines()[-1])

    def _recreate_database(self, maintenance: str) -> None:
        import psycopg

        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")

    def _drop_database(self, maintenance: str) -> None:
        import psycopg

        try:
            with psycopg.connect(maintenance, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        except psycopg.Error as exc:
            self.stderr.write(f"bench_web: could not drop {BENCH_DB}: {exc}")

    def _clean_redis(self, url: str) -> None:
        import redis

        try:
            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(f"{CACHE_PREFIX}*")) + list(client.scan_iter("_kombu*"))
            client.delete(*QUEUES, *keys)
        except redis.RedisError as exc:
            self.stderr.write(f"bench_web: could not clean Redis: {exc}")

    def _wait_ready(self, base_url: str, server: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn exited with code {server.returncode}")
            try:
                if httpx.get(base_url + "/accounts/login/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 60 s")

    def _stop(self, server: subprocess.Popen[bytes]) -> None:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of every worker
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

    def _print(self, report: dict[str, Any]) -> None:
        self.stdout.write(
            f"{report['requests']} requests in {report['seconds']} s "
            f"({report['requests_per_second']}/s) by {report['clients']} clients; "
            f"reads p50 {report['reads']['p50_ms']} ms, p99 {report['reads']['p99_ms']} ms"
        )
        for name, e in report["endpoints"].items():
            self.stdout.write(
                f"  {name:15} {e['count']:6}  p50 {e['p50_ms']:7} ms  p99 {e['p99_ms']:7} ms"
            )
        self.stdout.write(f"errors: {report['errors']}")
        self.stdout.write(f"PostgreSQL connections: {report['pg_connections']}")
