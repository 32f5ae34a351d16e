"""`python manage.py bench_dispatch --printers 200 --json` (PostgreSQL + Redis).

Dispatches one run to each of N emulated OctoPrints through a site worker as a site runs it,
each run a 3 MB G-code (farm/dispatch_bench.py), and reports dispatches per second, upload
MB/s, and the worker's (and the emulator's) CPU and peak memory. It runs on a database of its
own, recreated each time: FARM_DATABASE_URL's server with the database `farm_dispatch_bench`
(or the URL's own database when its name says `bench`), and on FARM_REDIS_URL, which it
needs: the embedded filesystem broker is not what a farm's sites run on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.management.commands.bench_farm_pass import bench_url, recreate


def purge_site_queue() -> None:
    from farm import dispatch_bench
    from farm.celery import app
    from farm.task_names import site_queue

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(site_queue(dispatch_bench.SITE))


class Command(BaseCommand):
    help = "Measure dispatch through a site worker to emulated OctoPrints (PostgreSQL + Redis)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--printers", type=int, default=200)
        parser.add_argument("--megabytes", type=float, default=3.0, help="G-code size")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.FARM_SITE_DISPATCH_CONCURRENCY,
            help="the site worker's threads",
        )
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--in-bench-database", action="store_true", help="(internal)")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["printers"] <= 0 or o["megabytes"] <= 0 or o["concurrency"] <= 0:
            raise CommandError("--printers, --megabytes and --concurrency must be positive")
        if not settings.REDIS_URL:
            raise CommandError("set FARM_REDIS_URL: the bench runs on Redis, as sites do")
        if not o["in_bench_database"]:
            self._in_bench_database(o)
            return
        from farm import dispatch_bench

        call_command("migrate", verbosity=0)
        purge_site_queue()
        workdir = Path(settings.MEDIA_ROOT).parent
        try:
            report = dispatch_bench.run(
                printers=o["printers"],
                megabytes=o["megabytes"],
                concurrency=o["concurrency"],
                workdir=workdir,
            )
        finally:
            purge_site_queue()
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:24} {value}")

    def _in_bench_database(self, o: dict[str, Any]) -> None:
        """Run the bench in a child process on the bench database, with its own media folder
        (the site worker it starts inherits both)."""
        url = bench_url("farm_dispatch_bench")
        try:
            recreate(url)
        except Exception as exc:  # psycopg's errors, unreachable server
            raise CommandError(f"cannot recreate the bench database {url}: {exc}") from exc
        workdir = Path(settings.VAR_DIR) / "bench_dispatch"
        shutil.rmtree(workdir, ignore_errors=True)
        (workdir / "media").mkdir(parents=True)
        env = dict(os.environ, FARM_DATABASE_URL=url, FARM_MEDIA_ROOT=str(workdir / "media"))
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_dispatch",
            "--in-bench-database",
            f"--printers={o['printers']}",
            f"--megabytes={o['megabytes']}",
            f"--concurrency={o['concurrency']}",
            *(["--json"] if o["json"] else []),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        self.stdout.write(done.stdout.rstrip())
        if done.returncode != 0:
            raise CommandError(f"the bench failed:\n{done.stderr[-4000:]}")
