"""`python manage.py bench_farm_pass --printers 5000 --jobs 40000 --json` (PostgreSQL).

Measures the farm's own passes through Django (farm/management/farm_pass_bench.py): the time
to import the jobs, one full scheduling pass and a second one right after, and single-printer
decisions, with the queries of each. It runs on a database of its own, recreated each time:
FARM_DATABASE_URL's server with the database `farm_pass_bench` (or the URL's own database when its
name says `bench`), default postgres://postgres@127.0.0.1:5432/farm_pass_bench. It never touches
another database.
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
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.celery import app

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/farm_pass_bench"


def bench_url(name: str = "farm_pass_bench") -> str:
    """FARM_DATABASE_URL when its database's name says `bench`, else the database `name` on
    its server (default: PostgreSQL on 127.0.0.1)."""
    url = os.environ.get("FARM_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return urlunsplit(urlsplit(DEFAULT_URL)._replace(path=f"/{name}"))
    parts = urlsplit(url)
    if "bench" in parts.path:
        return url
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:  # the one guard between this command and a farm's data
        raise CommandError(f"refusing to recreate {name!r}: not a bench database")
    admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Command(BaseCommand):
    help = "Measure the scheduling pass, decisions and bulk import through Django (PostgreSQL)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--printers", type=int, default=5000)
        parser.add_argument("--jobs", type=int, default=40000)
        parser.add_argument("--decisions", type=int, default=200)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--in-bench-database", action="store_true", help="(internal)")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["printers"] <= 0 or o["jobs"] <= 0 or o["decisions"] < 0:
            raise CommandError("--printers and --jobs must be positive")
        if not o["in_bench_database"]:
            self._in_bench_database(o)
            return
        from farm.management import farm_pass_bench

        workdir = Path(settings.MEDIA_ROOT).parent
        call_command("migrate", verbosity=0)
        cache.clear()
        app.control.purge()
        try:
            report = farm_pass_bench.run(
                printers=o["printers"],
                jobs=o["jobs"],
                decisions_count=o["decisions"],
                workdir=workdir,
                seed_value=o["seed"],
            )
        finally:
            app.control.purge()  # the dispatch messages of runs no worker will print
            cache.clear()
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:22} {value}")

    def _in_bench_database(self, o: dict[str, Any]) -> None:
        """Run the bench in a child process on the bench database, with its own media folder
        (so no slice comes from an earlier run's cache)."""
        url = bench_url()
        try:
            recreate(url)
        except Exception as exc:  # psycopg's errors, unreachable server
            raise CommandError(f"cannot recreate the bench database {url}: {exc}") from exc
        workdir = Path(settings.VAR_DIR) / "bench_farm_pass"
        shutil.rmtree(workdir, ignore_errors=True)
        env = dict(os.environ, FARM_DATABASE_URL=url, FARM_MEDIA_ROOT=str(workdir / "media"))
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_farm_pass",
            "--in-bench-database",
            f"--printers={o['printers']}",
            f"--jobs={o['jobs']}",
            f"--decisions={o['decisions']}",
            f"--seed={o['seed']}",
            *(["--json"] if o["json"] else []),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        self.stdout.write(done.stdout.rstrip())
        if done.returncode != 0:
            raise CommandError(f"the bench failed:\n{done.stderr[-4000:]}")
