from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import trimesh
from django.core.management import call_command

from slicing.bench import bench


def test_the_benchmark_reports_every_number_for_the_built_in_engine(tmp_path: Path) -> None:
    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12.0, 10.0, 4.0)).export(mesh)
    report = bench(mesh, engines=("builtin", "curaengine"), out_dir=tmp_path / "out")
    ours = report["engines"]["builtin"]
    for key in ("wall_seconds", "peak_memory_mb", "estimated_seconds", "filament_grams"):
        assert ours[key] > 0
    assert ours["layers"] == 20
    assert ours["gcode_lines"] > 1000
    assert Path(ours["gcode"]).exists()
    assert report["engines"]["curaengine"] == {"skipped": "CuraEngine is not supported yet"}
    assert report["cache"]["cached"] is True


def test_the_management_command_prints_json(tmp_path: Path) -> None:
    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12.0, 10.0, 4.0)).export(mesh)
    out = StringIO()
    call_command("bench_slicing", "--mesh", str(mesh), "--engine", "builtin", "--json", stdout=out)
    assert json.loads(out.getvalue())["engines"]["builtin"]["layers"] == 20
