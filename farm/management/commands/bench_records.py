"""`python manage.py bench_records --printers 10000 --json` (PostgreSQL).

Times the records' queries (farm/records_bench.py) on a farm of --printers printers with
--runs runs each over the last 30 days, in a bench database of its own recreated each time
(FARM_DATABASE_URL when its name says `bench`, else `records_bench` on its server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.management.commands.bench_farm_pass import bench_url, recreate


class Command(BaseCommand):
    help = "Time maintenance, failure rates, statistics and stock on a large farm."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--printers", type=int, default=10000)
        parser.add_argument("--runs", type=int, default=20, help="runs per printer")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--in-bench-database", action="store_true", help="(internal)")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["printers"] <= 0 or o["runs"] <= 0:
            raise CommandError("--printers and --runs must be positive")
        if o["in_bench_database"]:
            from farm.records_bench import run

            call_command("migrate", verbosity=0)
            measured = run(printers=o["printers"], runs_per_printer=o["runs"], seed_value=o["seed"])
            self.stdout.write(json.dumps(measured))
            return
        url = bench_url("records_bench")
        try:
            recreate(url)
        except Exception as exc:  # psycopg's errors, unreachable server
            raise CommandError(f"cannot recreate the bench database {url}: {exc}") from exc
        env = dict(os.environ, FARM_DATABASE_URL=url)
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_records",
            "--in-bench-database",
            f"--printers={o['printers']}",
            f"--runs={o['runs']}",
            f"--seed={o['seed']}",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CommandError(f"the bench failed:\n{done.stderr[-4000:]}")
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        report["load_average"] = [round(x, 2) for x in os.getloadavg()]
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:26} {value}")
