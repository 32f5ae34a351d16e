"""Overhang perimeters, read back from the G-code: the stretches of a loop beyond the layer
below are printed at the bridge speed with the bridge flow, the rest as before."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from slicing.builtin import slice_to_gcode
from slicing.gcode_parse import Moves, parse_gcode
from slicing.orient import place_on_bed
from slicing.overhangs import overhang_angle_deg
from slicing.sample_parts import overhang_part
from slicing.settings import SliceSettings
from slicing.toolpaths_base import Kind

SETTINGS = SliceSettings()


def sliced(angle_deg: float, tmp_path: Path) -> Moves:
    mesh = overhang_part(angle_deg)
    place_on_bed(mesh, SETTINGS.bed_mm)
    out = tmp_path / f"lean-{angle_deg:g}.gcode"
    slice_to_gcode(mesh, SETTINGS, out)
    with out.open() as handle:
        moves, _ = parse_gcode(handle)
    return moves


def of_kind(moves: Moves, kind: str) -> np.ndarray:
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 1e-6
    if kind not in moves.features:
        return np.zeros(len(moves.x), dtype=bool)
    return (moves.feature_idx == moves.features.index(kind)) & (moves.de > 0) & planar


@pytest.fixture(scope="module")
def leaning_70(tmp_path_factory: pytest.TempPathFactory) -> Moves:
    return sliced(70.0, tmp_path_factory.mktemp("lean70"))


def test_a_70_degree_lean_has_overhang_perimeters_at_the_bridge_speed(leaning_70: Moves) -> None:
    moves = leaning_70
    over = of_kind(moves, Kind.OVERHANG)
    layers = np.unique(np.round(moves.z[over], 3))
    assert len(layers) > 40  # every layer of the 10 mm lean but the first
    assert set(moves.feed[over].tolist()) == {SETTINGS.bridge_speed}
    outer = of_kind(moves, Kind.EXTERNAL) & (moves.z > SETTINGS.first_layer_mm + 1e-3)
    assert set(moves.feed[outer].tolist()) == {SETTINGS.external_perimeter_speed}
    assert SETTINGS.bridge_speed < SETTINGS.external_perimeter_speed


def test_overhang_perimeters_lie_beyond_the_layer_below_and_carry_the_bridge_flow(
    leaning_70: Moves,
) -> None:
    moves = leaning_70
    over = of_kind(moves, Kind.OVERHANG)
    printed = (moves.de > 0) & (np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 1e-6)
    heights = sorted({round(float(z), 3) for z in moves.z[printed]})
    half = SETTINGS.nozzle_mm / 2
    for below_z, z in zip(heights, heights[1:], strict=False):
        here = over & (np.abs(moves.z - z) < 1e-6)
        if not here.any():
            continue
        under = printed & (np.abs(moves.z - below_z) < 1e-6)
        segments = np.stack([moves.x0, moves.y0, moves.x, moves.y], axis=1)[under]
        # what the layer below printed, its beads as wide as a line
        footprint = shapely.buffer(
            shapely.multilinestrings(list(segments.reshape(-1, 2, 2))),
            SETTINGS.line_width_mm / 2,
        )
        mx = (moves.x0[here] + moves.x[here]) / 2
        my = (moves.y0[here] + moves.y[here]) / 2
        # the overhang's centre line is over air: more than half a nozzle past that
        # footprint, give or take the bead's rounding at the layer below's edge
        gap = shapely.distance(footprint, shapely.points(mx, my))
        assert gap.min() > half - 0.05
    length = np.hypot(moves.x - moves.x0, moves.y - moves.y0)
    filament = math.pi * (SETTINGS.filament_diameter_mm / 2) ** 2
    per_mm = moves.de[over] / length[over]
    assert per_mm == pytest.approx(SETTINGS.bridge_mm2() / filament, rel=0.01)


def test_an_overhang_stretch_continues_its_loop_without_a_travel(leaning_70: Moves) -> None:
    moves = leaning_70
    over = np.flatnonzero(of_kind(moves, Kind.OVERHANG))
    firsts = over[np.r_[True, np.diff(over) > 1]]
    before = firsts - 1
    # the move before each stretch is the loop's last held segment, ending where it starts
    assert np.allclose(moves.x[before], moves.x0[firsts], atol=1e-3)
    assert np.allclose(moves.y[before], moves.y0[firsts], atol=1e-3)
    assert (moves.de[before] > 0).all()


def test_a_60_degree_lean_prints_no_overhang_perimeter(tmp_path: Path) -> None:
    # below the lean where a loop leaves the layer under it (about 65°), as PrusaSlicer
    assert 60.0 < overhang_angle_deg(SETTINGS) < 70.0
    moves = sliced(60.0, tmp_path)
    assert not of_kind(moves, Kind.OVERHANG).any()
    assert of_kind(moves, Kind.EXTERNAL).any()
