"""A built-in slice on several threads writes the very G-code it writes on one.

Each thread takes whole layers of a step that is per layer, so nothing may depend on how the
layers were shared out: compared byte for byte on parts that use every step (skins behind
engraved letters, gap fill in a 1.2 mm wall, bridges, supports)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from slicing.builtin import slice_to_gcode
from slicing.checks import check_and_repair
from slicing.infill import _next_pieces
from slicing.loader import load_trimesh
from slicing.orient import orient, place_on_bed
from slicing.parallel import Workers
from slicing.profile import PrintProfile
from slicing.sample_parts import overhang_part, thin_tube
from slicing.settings import SliceSettings

PROFILE = PrintProfile()


def _gcode(mesh: trimesh.Trimesh, settings: SliceSettings, out: Path, threads: int) -> bytes:
    slice_to_gcode(mesh.copy(), settings, out, threads=threads)
    return out.read_bytes()


def _placed(mesh: trimesh.Trimesh, settings: SliceSettings) -> trimesh.Trimesh:
    checked = check_and_repair(mesh, build_volumes=[PROFILE.build_mm], nozzle_mm=PROFILE.nozzle_mm)
    if checked.scale_hint:
        mesh.apply_scale(checked.scale_hint)
    orient(mesh)
    place_on_bed(mesh, settings.bed_mm)
    return mesh


@pytest.mark.parametrize("part", ["cube", "tube", "overhang"])
def test_threads_write_the_same_gcode(part: str, meshes_dir: Path, tmp_path: Path) -> None:
    settings = SliceSettings.from_profile(PROFILE)
    if part == "cube":
        mesh = load_trimesh(meshes_dir / "XYZ-Cube.stl")
    elif part == "tube":
        mesh = thin_tube()
    else:
        mesh = overhang_part()
        settings = settings.with_changes(supports="everywhere")
    mesh = _placed(mesh, settings)
    one = _gcode(mesh, settings, tmp_path / "one.gcode", threads=1)
    assert len(one) > 10_000
    for threads in (2, 3):
        assert _gcode(mesh, settings, tmp_path / f"{threads}.gcode", threads) == one, threads


def test_chunks_cover_every_layer_once_and_use_every_thread() -> None:
    with Workers(2) as workers:
        pieces = workers.chunks(100, 64)
        assert [(r.start, r.stop) for r in pieces] == [(0, 50), (50, 100)]
        assert [len(r) for r in workers.chunks(300, 64)] == [60] * 5
        assert workers.chunks(1, 64) == [range(1)]
        assert workers.chunks(0, 64) == []
        assert workers.map(lambda x: x * x, [1, 2, 3]) == [1, 4, 9]
        assert workers.later(lambda: "done")() == "done"
    assert Workers(1).chunks(100, 64) == [range(50), range(50, 100)]


def test_a_fill_of_one_scan_line_chains_nothing() -> None:
    """Two short pieces on one scan line and no next line: no zig-zag to follow (a chunk of
    layers holding only such an area once raised an IndexError here)."""
    starts = np.array([[-21.44, -162.63], [-7.03, -162.63]])
    ends = np.array([[-21.26, -162.63], [-6.84, -162.63]])
    following = _next_pieces(np.array([0, 0]), np.array([-400, -400]), starts, ends, 1.22)
    assert following.tolist() == [-1, -1]
