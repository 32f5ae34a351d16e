from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
import trimesh
from django.core.management import call_command

from slicing import curaengine, prusaslicer
from slicing.bench import bench, bench_suite
from slicing.limits import SlicingLimits
from slicing.sample_parts import PARTS, small_gear, thin_tube
from tests.slicing.helpers import require_engine


def test_the_benchmark_reports_every_number_for_the_built_in_engine(tmp_path: Path) -> None:
    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12.0, 10.0, 4.0)).export(mesh)
    missing = SlicingLimits(curaengine="/nonexistent/CuraEngine")
    report = bench(
        mesh, engines=("builtin", "curaengine"), out_dir=tmp_path / "out", limits=missing
    )
    ours = report["engines"]["builtin"]
    for key in ("wall_seconds", "peak_memory_mb", "estimated_seconds", "filament_grams"):
        assert ours[key] > 0
    assert ours["layers"] == 20
    assert ours["gcode_lines"] > 1000
    assert Path(ours["gcode"]).exists()
    assert report["engines"]["curaengine"] == {
        "skipped": "CuraEngine is not installed (apt-get install cura-engine)"
    }
    assert report["cache"]["cached"] is True


def test_the_management_command_prints_json(tmp_path: Path) -> None:
    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12.0, 10.0, 4.0)).export(mesh)
    out = StringIO()
    call_command("bench_slicing", "--mesh", str(mesh), "--engine", "builtin", "--json", stdout=out)
    assert json.loads(out.getvalue())["engines"]["builtin"]["layers"] == 20


@pytest.mark.integration
def test_the_benchmark_compares_all_three_engines_when_installed(tmp_path: Path) -> None:
    require_engine(curaengine.installed())
    require_engine(None if prusaslicer.executable() else "PrusaSlicer is not installed")
    mesh = tmp_path / "block.stl"
    trimesh.creation.box(extents=(12.0, 10.0, 4.0)).export(mesh)
    report = bench(mesh, engines=("builtin", "prusaslicer", "curaengine"))
    cura = report["engines"]["curaengine"]
    assert cura["layers"] == 20
    assert cura["slicer"].startswith("Cura_SteamEngine")
    assert cura["stated_seconds"] == round(cura["estimated_seconds"])  # the header we wrote
    comparison = report["comparison"]
    assert abs(comparison["curaengine_filament_vs_prusaslicer_percent"]) < 15
    assert comparison["builtin_wall_over_curaengine"] > 0


def test_the_suite_benches_the_generated_parts_against_the_targets() -> None:
    suite = bench_suite(None, engines=("builtin",))
    assert set(suite["parts"]) == {"thin-tube", "overhang-60", "small-gear"}
    for name, row in suite["summary"].items():
        assert row["memory_met"], name
        assert suite["parts"][name]["engines"]["builtin"]["layers"] > 0
    assert suite["all_targets_met"] is True  # without PrusaSlicer there is nothing to miss


def test_the_generated_parts_are_closed_solids_of_the_stated_shape() -> None:
    for name, make in PARTS.items():
        mesh = make()
        assert mesh.is_watertight and mesh.is_volume, name
    assert thin_tube().extents.tolist() == pytest.approx([20.0, 20.0, 20.0])
    assert small_gear().extents[2] == pytest.approx(4.0)
