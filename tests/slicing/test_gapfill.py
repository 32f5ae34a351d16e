"""Thin walls and gap fill, read back from the G-code: every bead's width is what its extrusion
lays (filament volume over length and layer height), and the beads must cover the wall."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh

from slicing.builtin import slice_to_gcode
from slicing.gcode_parse import parse_gcode
from slicing.orient import place_on_bed
from slicing.settings import SliceSettings

SETTINGS = SliceSettings()
W = SETTINGS.line_width_mm


def layer_beads(gcode: Path, z: float) -> tuple[shapely.Geometry, float, list[str]]:
    """The area the extrusions of layer `z` cover, the volume they lay (mm³) and their kinds."""
    with gcode.open() as handle:
        moves, _ = parse_gcode(handle)
    length = np.hypot(moves.x - moves.x0, moves.y - moves.y0)
    on = (np.abs(moves.z - z) < 1e-6) & (moves.de > 0) & (length > 1e-6)
    area = math.pi * (SETTINGS.filament_diameter_mm / 2) ** 2
    height = SETTINGS.layer_height_mm
    width = moves.de[on] * area / (length[on] * height)  # the rectangle each bead fills
    lines = shapely.linestrings(
        np.stack([moves.x0[on], moves.y0[on], moves.x[on], moves.y[on]], axis=1).reshape(-1, 2, 2)
    )
    covered = shapely.union_all(shapely.buffer(lines, width / 2))  # a bead ends round
    kinds = sorted({moves.features[i] for i in moves.feature_idx[on]})
    return covered, float(moves.de[on].sum() * area), kinds


def widest_hole(wall: shapely.Geometry, covered: shapely.Geometry) -> float:
    """The widest strip of `wall` no bead covers (0 when none is wider than 0.01 mm)."""
    hole = shapely.difference(wall, covered)
    for r in np.arange(0.005, W, 0.005):
        if shapely.buffer(hole, -r).is_empty:
            return float(2 * r)
    return W


def sliced(mesh: trimesh.Trimesh, tmp_path: Path) -> tuple[Path, tuple[float, float]]:
    place_on_bed(mesh, SETTINGS.bed_mm)
    out = tmp_path / "part.gcode"
    slice_to_gcode(mesh, SETTINGS, out)
    centre = mesh.bounds.mean(axis=0)
    return out, (float(centre[0]), float(centre[1]))


def test_a_1_2_mm_wall_prints_solid_with_the_volume_it_fills(tmp_path: Path) -> None:
    tube = trimesh.creation.annulus(r_min=8.8, r_max=10.0, height=4.0, sections=128)
    gcode, (cx, cy) = sliced(tube, tmp_path)
    covered, volume, kinds = layer_beads(gcode, 2.0)
    centre = shapely.Point(cx, cy)  # the wall's cross-section, where the tube stands
    wall = centre.buffer(10.0, quad_segs=32).difference(centre.buffer(8.8, quad_segs=32))
    assert "Gap fill" in kinds  # the middle of the wall: no third loop fits
    assert widest_hole(wall, covered) <= W / 10  # no gap wider than a tenth of a line
    assert volume == pytest.approx(wall.area * SETTINGS.layer_height_mm, rel=0.05)


def test_a_wall_narrower_than_a_line_is_printed_not_dropped(tmp_path: Path) -> None:
    fin = trimesh.creation.box(extents=(20.0, 0.35, 3.0))  # 0.35 mm: no perimeter fits
    gcode, (cx, cy) = sliced(fin, tmp_path)
    covered, volume, kinds = layer_beads(gcode, 1.6)
    wall = shapely.box(cx - 10, cy - 0.175, cx + 10, cy + 0.175)
    assert kinds == ["Gap fill"]
    assert volume == pytest.approx(wall.area * SETTINGS.layer_height_mm, rel=0.10)
    assert shapely.difference(wall, covered).area < 0.05 * wall.area
