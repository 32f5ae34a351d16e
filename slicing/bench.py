"""Benchmark the slicing engines on one mesh, each in its own process, measured honestly.

The mesh is loaded, checked, oriented and placed once; every engine then slices the very same
placed mesh with the same SliceSettings in a fresh child process, so each engine's wall time
and peak memory (the child's max RSS, including the Python interpreter for the built-in
engine) are its own. Every G-code is read back by our analyser.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trimesh

from slicing import curaengine, prusaslicer
from slicing.analysis import analyse_file
from slicing.checks import check_and_repair
from slicing.engines import missing
from slicing.intake import MESH_SUFFIXES
from slicing.limits import DEFAULT_LIMITS, PRUSASLICER, SlicingLimits
from slicing.loader import load_trimesh
from slicing.orient import orient, place_on_bed
from slicing.parallel import available_cores
from slicing.profile import PrintProfile
from slicing.sample_parts import PARTS
from slicing.settings import SliceSettings

ENGINES = ("builtin", "prusaslicer", "curaengine")


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def run_engine(
    engine: str,
    stl: Path,
    out: Path,
    settings: SliceSettings,
    program: str = PRUSASLICER,
    definitions: Path | None = None,
) -> dict[str, Any]:
    """Slice `stl` with `engine` in this process; called inside the child process.

    Besides the wall time, `cpu_seconds` is the engine's own processor time (ours: this
    process's; an external engine's: its reaped process's), which other work on a shared
    machine does not inflate the way it inflates wall time."""
    started, cpu = time.perf_counter(), time.process_time()
    before = _children_cpu()
    if engine == "builtin":
        from slicing.builtin import slice_to_gcode

        mesh = trimesh.load(stl, force="mesh")
        assert isinstance(mesh, trimesh.Trimesh)
        slice_to_gcode(mesh, settings, out)
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report
        # its parent's peak (the bench process holding the 3MF) instead of its own
        return {
            "wall_seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu,
            "peak_memory_mb": prusaslicer.peak_rss_mb(),
            "threads": available_cores(),  # as slice_to_gcode's default uses (parallel.py)
        }
    if engine == "prusaslicer":
        mesh = trimesh.load(stl, force="mesh")
        assert isinstance(mesh, trimesh.Trimesh)
        result = prusaslicer.slice_with_prusaslicer(mesh, settings, out, program=program)
        # PrusaSlicer's own process: wall time and peak memory, not our STL export around it
        return {
            "wall_seconds": result.seconds_wall,
            "cpu_seconds": _children_cpu() - before,
            "peak_memory_mb": result.peak_memory_mb,
        }
    if engine == "curaengine":
        mesh = trimesh.load(stl, force="mesh")
        assert isinstance(mesh, trimesh.Trimesh)
        result = curaengine.slice_with_curaengine(
            mesh, settings, out, program=program, definitions=definitions
        )
        return {
            "wall_seconds": result.seconds_wall,
            "cpu_seconds": _children_cpu() - before,
            "peak_memory_mb": result.peak_memory_mb,
        }
    raise ValueError(f"no such engine {engine!r}")


def _children_cpu() -> float:
    """User and system seconds of this process's reaped children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(
    engine: str, stl: Path, out: Path, settings_json: Path, program: str, definitions: str
) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "slicing.bench", engine, str(stl), str(out), str(settings_json),
        program, definitions,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench(
    mesh_path: Path,
    *,
    engines: tuple[str, ...] = ("builtin", "prusaslicer"),
    out_dir: Path | None = None,
    profile: PrintProfile | None = None,
    limits: SlicingLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Slice `mesh_path` with each engine; return a JSON-ready report."""
    profile = profile or PrintProfile()
    settings = SliceSettings.from_profile(profile)
    report: dict[str, Any] = {"mesh": str(mesh_path), "engines": {}}
    started = time.perf_counter()
    mesh = load_trimesh(mesh_path, limits)
    checked = check_and_repair(mesh, build_volumes=[profile.build_mm], nozzle_mm=profile.nozzle_mm)
    if checked.scale_hint:
        mesh.apply_scale(checked.scale_hint)
    orient(mesh)
    place_on_bed(mesh, settings.bed_mm)
    report["faces"] = len(mesh.faces)
    report["prepare_seconds"] = time.perf_counter() - started
    report["settings"] = {
        "layer_height_mm": settings.layer_height_mm,
        "line_width_mm": settings.line_width_mm,
        "perimeters": settings.perimeters,
        "infill": settings.infill,
        "top_layers": settings.top_layers,
        "bottom_layers": settings.bottom_layers,
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        stl = work / "placed.stl"
        mesh.export(stl)
        settings_json = work / "settings.json"
        settings_json.write_text(json.dumps(_settings_dict(settings)))
        target = out_dir or work
        target.mkdir(parents=True, exist_ok=True)
        for engine in engines:
            report["engines"][engine] = _bench_one(
                engine, stl, target, settings_json, settings, limits
            )
        report["cache"] = _bench_cache(mesh_path, profile, work / "cache", limits)
    _compare(report)
    return report


def bench_suite(
    mesh_dir: Path | None,
    *,
    engines: tuple[str, ...] = ENGINES,
    limits: SlicingLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """`bench` on every mesh in `mesh_dir` and on the generated parts (slicing.sample_parts),
    with a summary per part against the issue's targets: filament within 5 % of PrusaSlicer,
    wall time at most PrusaSlicer's (and at most CuraEngine's on 3DBenchy), peak memory
    at most 1 GB."""
    # the machine's load around the run: other work inflates wall times (not filament)
    report: dict[str, Any] = {"parts": {}, "summary": {}, "load_average": {"start": _load()}}
    with tempfile.TemporaryDirectory(prefix="bench-parts-") as tmp:
        files = []
        if mesh_dir is not None:
            files = [
                (p.stem, p)
                for p in sorted(mesh_dir.iterdir())
                if p.suffix.lower().lstrip(".") in MESH_SUFFIXES
            ]
        for name, make in PARTS.items():
            path = Path(tmp) / f"{name}.stl"
            make().export(path)
            files.append((name, path))
        for name, path in files:
            one = bench(path, engines=engines, limits=limits)
            report["parts"][name] = one
            report["summary"][name] = _targets(name, one)
    met = [
        all(v for k, v in row.items() if k.endswith("_met")) for row in report["summary"].values()
    ]
    report["all_targets_met"] = bool(met) and all(met)
    report["load_average"]["end"] = _load()
    return report


def _load() -> list[float]:
    """The 1, 5 and 15 minute load averages (`uptime`'s)."""
    return [round(x, 2) for x in os.getloadavg()]


def _targets(name: str, one: dict[str, Any]) -> dict[str, Any]:
    engines = one["engines"]
    ours, prusa, cura = (engines.get(e, {}) for e in ("builtin", "prusaslicer", "curaengine"))
    row: dict[str, Any] = {"builtin_peak_mb": round(ours.get("peak_memory_mb", 0), 1)}
    row["memory_met"] = row["builtin_peak_mb"] <= 1024
    if "filament_grams" in ours and "filament_grams" in prusa:
        diff = 100.0 * (ours["filament_grams"] / prusa["filament_grams"] - 1)
        row["filament_vs_prusaslicer_percent"] = round(diff, 1)
        row["filament_met"] = abs(diff) <= 5.0
        ratio = ours["wall_seconds"] / prusa["wall_seconds"]
        row["wall_over_prusaslicer"] = round(ratio, 2)
        row["wall_met"] = ratio <= 1.0
        if ours.get("cpu_seconds") and prusa.get("cpu_seconds"):
            # not a target: the processor time each used, steadier than wall time under load
            row["cpu_over_prusaslicer"] = round(ours["cpu_seconds"] / prusa["cpu_seconds"], 2)
    if "wall_seconds" in cura and "wall_seconds" in ours:
        row["wall_over_curaengine"] = round(ours["wall_seconds"] / cura["wall_seconds"], 2)
        if ours.get("cpu_seconds") and cura.get("cpu_seconds"):
            row["cpu_over_curaengine"] = round(ours["cpu_seconds"] / cura["cpu_seconds"], 2)
        if name.lower().startswith("3dbenchy"):
            row["wall_vs_curaengine_met"] = row["wall_over_curaengine"] <= 1.0
    return row


def _bench_cache(
    mesh_path: Path, profile: PrintProfile, cache_dir: Path, limits: SlicingLimits
) -> dict[str, Any]:
    """prepare() twice with the built-in engine: a full slice, then the same part from cache."""
    from slicing.prepare import prepare

    timings = []
    for _ in range(2):
        started = time.perf_counter()
        prepared = prepare(
            mesh_path, "mesh", profile, out_dir=cache_dir, engine="builtin", limits=limits
        )
        timings.append(time.perf_counter() - started)
    return {
        "first_prepare_seconds": timings[0],
        "cached_prepare_seconds": timings[1],
        "cached": prepared.cached,
    }


def _bench_one(
    engine: str,
    stl: Path,
    target: Path,
    settings_json: Path,
    settings: SliceSettings,
    limits: SlicingLimits,
) -> dict[str, Any]:
    if (why := missing(engine, limits)) is not None:
        return {"skipped": why}
    program = limits.curaengine if engine == "curaengine" else limits.prusaslicer
    definitions = str(limits.cura_definitions or "")
    out = target / f"{stl.stem}.{engine}.gcode"
    result = _child(engine, stl, out, settings_json, program, definitions)
    if "error" in result:
        return result
    analysis = analyse_file(out, filament_diameter_mm=settings.filament_diameter_mm)
    area = math.pi * (settings.filament_diameter_mm / 2) ** 2
    result.update(
        layers=analysis.layers,
        gcode_lines=_count_lines(out),
        estimated_seconds=analysis.seconds,
        stated_seconds=analysis.stated_seconds,
        filament_mm=analysis.filament_mm,
        filament_grams=analysis.filament_mm * area * settings.density_g_cm3 / 1000.0,
        slicer=analysis.slicer,
    )
    if analysis.stated_seconds:
        result["estimate_vs_stated_percent"] = 100.0 * (
            analysis.seconds / analysis.stated_seconds - 1.0
        )
    if target != stl.parent:
        result["gcode"] = str(out)
    return result


def _compare(report: dict[str, Any]) -> None:
    ours = report["engines"].get("builtin", {})
    prusa = report["engines"].get("prusaslicer", {})
    if "wall_seconds" not in ours or "wall_seconds" not in prusa:
        return
    report["comparison"] = {
        "builtin_wall_over_prusaslicer": ours["wall_seconds"] / prusa["wall_seconds"],
        "builtin_peak_memory_mb": ours["peak_memory_mb"],
        "filament_difference_percent": 100.0
        * (ours["filament_grams"] / prusa["filament_grams"] - 1),
        "our_estimate_of_prusaslicer_gcode_s": prusa["estimated_seconds"],
        "prusaslicer_own_estimate_s": prusa.get("stated_seconds"),
        "estimate_difference_percent": prusa.get("estimate_vs_stated_percent"),
    }
    cura = report["engines"].get("curaengine", {})
    if "wall_seconds" in cura:
        report["comparison"].update(
            builtin_wall_over_curaengine=ours["wall_seconds"] / cura["wall_seconds"],
            curaengine_filament_vs_prusaslicer_percent=100.0
            * (cura["filament_grams"] / prusa["filament_grams"] - 1),
            curaengine_wall_over_prusaslicer=cura["wall_seconds"] / prusa["wall_seconds"],
        )


def _settings_dict(settings: SliceSettings) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(settings)


def _main(argv: list[str]) -> None:
    engine, stl, out, settings_json, program, definitions = argv
    raw = json.loads(Path(settings_json).read_text())
    raw["bed_mm"] = tuple(raw["bed_mm"])
    settings = SliceSettings(**raw)
    folder = Path(definitions) if definitions else None
    result = run_engine(engine, Path(stl), Path(out), settings, program, folder)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    _main(sys.argv[1:])
