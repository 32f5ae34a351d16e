"""Benchmark serial streaming: `manage.py bench_serial --baud 115200 --lines 20000 --json`.

Streams a G-code (unless --gcode is given: a 40 mm cylinder sliced by the farm's built-in
slicer, repeated as needed; a generated PrusaSlicer-like file when slicing is not available)
through ptys to simulated
Marlin boards that model the wire time of the baud rate: one line in flight, then windowed,
then `--ports` ports at once from one serial host. See printers/serialhost/bench.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from printers.firmware_sim.gcode_gen import realistic_gcode
from printers.protocol.lines import GcodeProgram, load_program, parse_program
from printers.serialhost.bench import run_bench


class Command(BaseCommand):
    help = "Measure serial streaming rates against the wire limit, one port and many."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--baud", type=int, default=115200)
        parser.add_argument("--lines", type=int, default=20000)
        parser.add_argument("--gcode", type=Path, help="a sliced G-code file to stream instead")
        parser.add_argument("--ports", type=int, default=50)
        parser.add_argument("--lines-per-port", type=int, default=2000)
        parser.add_argument("--ack-delay-ms", type=float, default=1.0)
        parser.add_argument("--window", type=int, help="lines in flight (default: from M115)")
        parser.add_argument("--sim-processes", type=int, default=2)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["baud"] <= 0 or o["lines"] <= 0 or o["ports"] <= 0:
            raise CommandError("--baud, --lines and --ports must be positive")
        if o["gcode"]:
            program = _first(load_program(o["gcode"]), o["lines"])
            source = str(o["gcode"])
        else:
            program, source = _sliced(o["lines"])
        multi = _first(program, min(o["lines_per_port"], len(program.commands)))
        result = run_bench(
            program,
            multi,
            baud=o["baud"],
            ports=o["ports"],
            ack_delay_ms=o["ack_delay_ms"],
            window=o["window"],
            sim_processes=o["sim_processes"],
        )
        result["gcode"] = source
        if o["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        w = result["wire_limit_lines_per_s"]
        self.stdout.write(f"G-code: {source}")
        self.stdout.write(f"{result['lines']} lines at {o['baud']} baud; wire limit {w} lines/s")
        for mode in ("one_in_flight", "windowed"):
            r = result[mode]
            self.stdout.write(f"  {mode:14} {r['lines_per_s']:8.1f} lines/s  {r['ratio']:.1%}")
        m = result["multi_port"]
        self.stdout.write(
            f"  {m['ports']} ports: min {m['min_lines_per_s']} lines/s, median "
            f"{m['median_lines_per_s']}, single {m['single_port_lines_per_s']}: "
            f"{m['min_ratio_to_single']:.1%}; dropped {m['ports_dropped']}"
        )


def _sliced(lines: int) -> tuple[GcodeProgram, str]:
    """Real slicer output: a cylinder's short perimeter segments are where streaming, not the
    motion, limits a print."""
    import trimesh

    from farm.slicing_config import slicing_limits
    from slicing.errors import PrepareError
    from slicing.prepare import prepare
    from slicing.profile import PrintProfile

    with tempfile.TemporaryDirectory(prefix="bench-slice-") as tmp:
        mesh = trimesh.creation.cylinder(radius=20, height=30, sections=96)
        mesh.apply_translation((0, 0, 15))
        stl = Path(tmp) / "cylinder.stl"
        mesh.export(stl)
        try:
            result = prepare(
                stl,
                "mesh",
                PrintProfile(engine="builtin"),
                out_dir=Path(tmp),
                limits=slicing_limits(),
            )
        except PrepareError as exc:
            return parse_program(realistic_gcode(lines)), f"generated (slicing failed: {exc})"
        if result.gcode_path is None:
            return parse_program(realistic_gcode(lines)), "generated (no G-code from slicing)"
        sliced = load_program(result.gcode_path)
    commands = list(sliced.commands)
    while len(commands) < lines:
        commands += sliced.commands
    text = "\n".join(commands[:lines]) + "\n"
    return parse_program(text), f"a 40 mm cylinder sliced by the built-in slicer ({result.engine})"


def _first(program: GcodeProgram, count: int) -> GcodeProgram:
    return GcodeProgram(
        program.commands[:count], program.byte_ends[:count], program.byte_ends[count - 1]
    )
