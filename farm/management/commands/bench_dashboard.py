"""`python manage.py bench_dashboard --printers 10000 --json` (PostgreSQL + Redis).

Measures the fleet view at --printers and at --small printers (farm/management/
dashboard_bench.py): first load time and bytes, and bytes and server time per live update when
1 % of the printers change; the ratio of the two sizes shows whether an update's cost grows with
the farm. With --browser, also the first load as headless Chromium sees it (navigation start to
the load event, the fleet drawn; farm/management/dashboard_browser.py). Each size runs in a
child process on a database of its own, recreated each time (as bench_farm_pass:
FARM_DATABASE_URL when its name says `bench`, else `dashboard_bench` on its server), with the
cache and broker on FARM_REDIS_URL, which it empties: give it a Redis database of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.celery import app
from farm.management.commands.bench_farm_pass import bench_url, recreate


class Command(BaseCommand):
    help = "Measure the fleet view's first load and live updates at two farm sizes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--printers", type=int, default=10000)
        parser.add_argument("--small", type=int, default=100, help="the size to compare with")
        parser.add_argument("--updates", type=int, default=20)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--browser", action="store_true", help="also measure the first load in Chromium"
        )
        parser.add_argument("--in-bench-database", action="store_true", help="(internal)")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["printers"] <= 0 or o["small"] <= 0 or o["updates"] <= 0:
            raise CommandError("--printers, --small and --updates must be positive")
        if not settings.REDIS_URL:
            raise CommandError("set FARM_REDIS_URL: the live state and change feed are in Redis")
        if o["in_bench_database"]:
            self._measure(o)
            return
        sizes = {str(n): self._child(n, o) for n in (o["small"], o["printers"])}
        small, large = sizes[str(o["small"])], sizes[str(o["printers"])]
        ratios = {
            "first_load_ms": _ratio(large, small, "first_load", "ms_median"),
            "first_load_bytes": _ratio(large, small, "first_load", "bytes_median"),
            "update_ms": _ratio(large, small, "live_update", "ms_median"),
            "update_bytes": _ratio(large, small, "live_update", "bytes_median"),
        }
        if o["browser"]:
            ratios["browser_load_event_ms"] = _ratio(
                large, small, "browser_first_load", "load_event_end_ms_median"
            )
        report = {
            "sizes": sizes,
            "large_over_small": ratios,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for size, result in sizes.items():
            self.stdout.write(f"{size} printers:")
            for key, value in result.items():
                self.stdout.write(f"  {key:26} {value}")
        self.stdout.write(f"large over small: {report['large_over_small']}")

    def _measure(self, o: dict[str, Any]) -> None:
        from farm.management import dashboard_bench

        call_command("migrate", verbosity=0)
        cache.clear()
        app.control.purge()
        try:
            report = dashboard_bench.run(
                printers=o["printers"], updates=o["updates"], seed_value=o["seed"]
            )
            if o["browser"]:
                from farm.management.dashboard_browser import first_loads

                report["browser_first_load"] = first_loads(username="operator")
        finally:
            app.control.purge()  # the sample jobs' slicing messages no worker will take
            cache.clear()
        self.stdout.write(json.dumps(report))

    def _child(self, printers: int, o: dict[str, Any]) -> dict[str, Any]:
        url = bench_url("dashboard_bench")
        try:
            recreate(url)
        except Exception as exc:  # psycopg's errors, unreachable server
            raise CommandError(f"cannot recreate the bench database {url}: {exc}") from exc
        workdir = Path(settings.VAR_DIR) / "bench_dashboard"
        env = dict(os.environ, FARM_DATABASE_URL=url, FARM_MEDIA_ROOT=str(workdir / "media"))
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "bench_dashboard",
            "--in-bench-database",
            f"--printers={printers}",
            f"--updates={o['updates']}",
            f"--seed={o['seed']}",
            *(["--browser"] if o["browser"] else []),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CommandError(f"the bench failed:\n{done.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def _ratio(large: dict[str, Any], small: dict[str, Any], part: str, key: str) -> float:
    return round(large[part][key] / max(small[part][key], 1e-9), 2)
