"""Benchmark the slicing engines: `manage.py bench_slicing --mesh PATH [--engine all] --json`,
or `--suite [--meshes DIR]`: every mesh there and the generated parts, with the targets.

Slices one mesh with the built-in engine and PrusaSlicer (each in its own process, same placed
mesh, same settings) and prints per engine: wall and CPU seconds, peak memory, layers, G-code
lines, our estimated print seconds, filament grams; for PrusaSlicer also its own stated estimate next
to ours. `--out DIR` keeps each engine's G-code. The work is slicing.bench.bench().
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from farm.slicing_config import slicing_limits
from slicing.bench import ENGINES, bench, bench_suite
from slicing.errors import MeshError


class Command(BaseCommand):
    help = "Measure the slicing engines' speed, memory and output on one mesh."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--mesh", type=Path, help="one mesh (else --suite)")
        parser.add_argument(
            "--suite",
            action="store_true",
            help="every mesh in --meshes and the generated parts, with the targets per part",
        )
        parser.add_argument("--meshes", type=Path, help="a folder of meshes for --suite")
        parser.add_argument("--engine", choices=[*ENGINES, "all"], default="all")
        parser.add_argument("--out", type=Path, help="keep each engine's G-code in this folder")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        engines = ENGINES if o["engine"] == "all" else (o["engine"],)
        if o["suite"]:
            if o["meshes"] is not None and not o["meshes"].is_dir():
                raise CommandError(f"no such folder: {o['meshes']}")
            suite = bench_suite(o["meshes"], engines=tuple(engines), limits=slicing_limits())
            self.stdout.write(json.dumps(suite, indent=2))
            return
        if o["mesh"] is None:
            raise CommandError("give --mesh PATH, or --suite [--meshes DIR]")
        if not o["mesh"].is_file():
            raise CommandError(f"no such mesh: {o['mesh']}")
        try:
            report = bench(
                o["mesh"], engines=tuple(engines), out_dir=o["out"], limits=slicing_limits()
            )
        except MeshError as exc:
            raise CommandError(str(exc)) from exc
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"{report['mesh']}: {report['faces']} faces")
        for engine, result in report["engines"].items():
            if "skipped" in result or "error" in result:
                self.stdout.write(f"  {engine}: {result.get('skipped') or result.get('error')}")
                continue
            self.stdout.write(
                f"  {engine}: {result['wall_seconds']:.2f} s wall, "
                f"{result.get('cpu_seconds', 0):.2f} s CPU, "
                f"{result['peak_memory_mb']:.0f} MB peak, {result['layers']} layers, "
                f"{result['gcode_lines']} lines, estimate {result['estimated_seconds']:.0f} s "
                f"(its own: {result['stated_seconds']}), {result['filament_grams']:.2f} g"
            )
        cache = report.get("cache", {})
        if cache:
            self.stdout.write(
                f"  cache: first prepare {cache['first_prepare_seconds']:.2f} s, "
                f"cached {cache['cached_prepare_seconds'] * 1000:.1f} ms"
            )
        if "comparison" in report:
            self.stdout.write("  comparison: " + json.dumps(report["comparison"]))
