"""`python manage.py bench_fleet --printers N --seconds 60 [--offline-share 0.5] [--shards K] --json`.

The fleet link at farm scale (farm/fleet_bench.py): emulated OctoPrints, the production fleet
link, PostgreSQL and Redis. It runs on a database of its own, recreated each time:
FARM_DATABASE_URL's server with the database `fleet_bench` (or the URL's own database when
its name says `bench`), default postgres://postgres@127.0.0.1:5432/fleet_bench; and on
FARM_REDIS_URL, which it needs (the link's live state and the planner's wake-ups go there;
the queued wake-ups are purged at the end, as no worker runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.celery import app
from farm.management.commands.bench_farm_pass import recreate

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/fleet_bench"


def bench_url() -> str:
    url = os.environ.get("FARM_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return DEFAULT_URL
    parts = urlsplit(url)
    if "bench" in parts.path:
        return url
    return urlunsplit(parts._replace(path="/fleet_bench"))


class Command(BaseCommand):
    help = "Measure the fleet link against emulated OctoPrints (PostgreSQL + Redis)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--printers", type=int, default=5000)
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--offline-share", type=float, default=0.0)
        parser.add_argument(
            "--changes-per-second", type=float, default=0, help="default: printers / 200"
        )
        parser.add_argument(
            "--shards", type=int, default=1, help="fleet links, one per shard (--shard i/n)"
        )
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--in-bench-database", action="store_true", help="(internal)")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["printers"] <= 0 or o["seconds"] <= 0 or not 0 <= o["offline_share"] < 1:
            raise CommandError(
                "--printers and --seconds must be positive, 0 <= --offline-share < 1"
            )
        if not settings.REDIS_URL:
            raise CommandError("bench_fleet needs Redis: set FARM_REDIS_URL")
        if not o["in_bench_database"]:
            self._in_bench_database(o)
            return
        from farm import fleet_bench

        call_command("migrate", verbosity=0)
        app.control.purge()
        try:
            report = fleet_bench.run(
                printers=o["printers"],
                seconds=o["seconds"],
                offline_share=o["offline_share"],
                rate=o["changes_per_second"] or max(1.0, o["printers"] / 200),
                workdir=Path(settings.VAR_DIR) / "bench_fleet",
                shards=max(1, o["shards"]),
            )
        finally:
            app.control.purge()  # the planner's wake-ups no worker will take
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:30} {value}")

    def _in_bench_database(self, o: dict[str, Any]) -> None:
        url = bench_url()
        try:
            recreate(url)
        except Exception as exc:  # psycopg's errors, unreachable server
            raise CommandError(f"cannot recreate the bench database {url}: {exc}") from exc
        workdir = Path(settings.VAR_DIR) / "bench_fleet"
        shutil.rmtree(workdir, ignore_errors=True)
        env = dict(os.environ, FARM_DATABASE_URL=url)
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_fleet",
            "--in-bench-database",
            f"--printers={o['printers']}",
            f"--seconds={o['seconds']}",
            f"--offline-share={o['offline_share']}",
            f"--changes-per-second={o['changes_per_second']}",
            f"--shards={o['shards']}",
            *(["--json"] if o["json"] else []),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CommandError(f"the bench failed:\n{done.stderr[-3000:]}")
        self.stdout.write(done.stdout)
