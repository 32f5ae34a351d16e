"""Benchmark the scheduler: `manage.py bench_scheduler --printers 5000 --jobs 40000 --json`.

Plans a generated farm (or `--instance FILE`, the JSON format documented in
farm/scheduling_bench/instance.py) and prints full-plan seconds, incremental decision p99,
makespan, lower bound, gap, weighted tardiness and due dates met. `--plan-out FILE` writes
every run (job, printer, copies, start, end) so the plan can be checked independently.
`--setups` adds staffed hours, bed clearing, filament changes and staggered starts to every
site.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from farm.scheduling_bench import bench
from farm.scheduling_bench.instance import generate, load, plan_rows, to_dict


class Command(BaseCommand):
    help = "Measure the scheduler's speed and plan quality on a generated or given farm."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--printers", type=int, default=5000)
        parser.add_argument("--jobs", type=int, default=40000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--instance", type=Path, help="a JSON instance instead of a generated one"
        )
        parser.add_argument("--instance-out", type=Path, help="save the instance used as JSON")
        parser.add_argument("--plan-out", type=Path, help="write the plan's runs as JSON")
        parser.add_argument(
            "--setups", action="store_true", help="staffed hours, changes, staggering"
        )
        parser.add_argument("--decisions", type=int, default=2000)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["instance"]:
            try:
                instance = load(o["instance"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"cannot read {o['instance']}: {exc}") from exc
        else:
            if o["printers"] <= 0 or o["jobs"] <= 0:
                raise CommandError("--printers and --jobs must be positive")
            instance = generate(o["printers"], o["jobs"], seed=o["seed"])
        if o["setups"]:
            instance = bench.with_setups(instance)
        if o["instance_out"]:
            o["instance_out"].write_text(json.dumps(to_dict(instance)))
        report, result = bench.run(instance, decisions=o["decisions"])
        if o["plan_out"]:
            o["plan_out"].write_text(
                json.dumps(
                    {
                        "now": instance.now,
                        "lower_bound": result.lower_bound,
                        "runs": plan_rows(result),
                        "unplaceable": result.unplaceable,
                    }
                )
            )
        if o["json"]:
            report.pop("quality")
            self.stdout.write(json.dumps(report, indent=2))
            return
        for key, value in report.items():
            if key != "quality":
                self.stdout.write(f"{key:28} {value}")
