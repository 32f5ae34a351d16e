"""Run the digital twin: `manage.py simulate --scenario FILE [--farm] [--seed N] --json`.

A discrete-event simulation of the farm driven by the real planner; the scenario format is
documented in farm/twin/scenario.py, with examples in farm/twin/scenarios/. With --farm the
farm's own Django services run on a simulated clock against a throwaway SQLite database
(farm/management/twin_farm.py), in a child process so the farm's own database is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.management.twin_farm import simulate_farm
from farm.twin.scenario import load
from farm.twin.simulation import simulate


class Command(BaseCommand):
    help = "Simulate the farm under a scenario (more printers, a site down, a rush order)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--scenario", type=Path, required=True)
        parser.add_argument("--days", type=float, help="override the scenario's simulated days")
        parser.add_argument(
            "--seed", type=int, help="override the scenario's seed (print-time noise, failures)"
        )
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--farm", action="store_true", help="run the farm's services, not only the planner"
        )
        # The child of --farm, on the throwaway database its parent points it at.
        parser.add_argument("--farm-child", action="store_true", help="(internal)")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            scenario = load(o["scenario"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"cannot read {o['scenario']}: {exc}") from exc
        if o["days"]:
            scenario = replace(scenario, days=o["days"])
        if o["seed"] is not None:
            scenario = replace(scenario, seed=o["seed"])
        if o["farm"]:
            self._farm_child(o)
            return
        if o["farm_child"]:
            call_command("migrate", verbosity=0)
            report = simulate_farm(scenario)
        else:
            report = simulate(scenario)
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:32} {value}")

    def _farm_child(self, o: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="farm-twin-") as scratch:
            env = {
                **os.environ,
                "FARM_DATABASE_URL": f"sqlite:///{scratch}/twin.sqlite3",
                "FARM_VAR_DIR": scratch,
            }
            args = [sys.executable, sys.argv[0], "simulate", "--scenario", str(o["scenario"])]
            args += ["--farm-child"] + (["--json"] if o["json"] else [])
            args += ["--days", str(o["days"])] if o["days"] else []
            args += ["--seed", str(o["seed"])] if o["seed"] is not None else []
            done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise CommandError(f"the farm twin failed:\n{done.stderr[-4000:]}")
            self.stdout.write(done.stdout)
