"""Run the digital twin: `manage.py simulate --scenario FILE --json`.

A discrete-event simulation of the farm driven by the real planner; the scenario format is
documented in farm/twin/scenario.py, with examples in farm/twin/scenarios/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from farm.twin.scenario import load
from farm.twin.simulation import simulate


class Command(BaseCommand):
    help = "Simulate the farm under a scenario (more printers, a site down, a rush order)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--scenario", type=Path, required=True)
        parser.add_argument("--days", type=float, help="override the scenario's simulated days")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            scenario = load(o["scenario"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"cannot read {o['scenario']}: {exc}") from exc
        if o["days"]:
            from dataclasses import replace

            scenario = replace(scenario, days=o["days"])
        report = simulate(scenario)
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            self.stdout.write(f"{key:32} {value}")
