"""Supports, read back from the G-code: under a 60° overhang they stand on the bed, keep their
gap to the part on every layer, and the part rests on their dense top (the interface)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh

from slicing import curaengine, prusaslicer
from slicing.builtin import slice_to_gcode
from slicing.checks import check_and_repair
from slicing.gcode_parse import Moves, parse_gcode
from slicing.limits import DEFAULT_LIMITS
from slicing.loader import load_trimesh
from slicing.orient import orient, place_on_bed
from slicing.prepare import prepare
from slicing.profile import PrintProfile
from slicing.sample_parts import overhang_part
from slicing.settings import SliceSettings
from slicing.supports import gcode_has_supports, needs_supports

SUPPORT, INTERFACE = "Support material", "Support material interface"


def sliced(mesh: trimesh.Trimesh, settings: SliceSettings, tmp_path: Path) -> Moves:
    place_on_bed(mesh, settings.bed_mm)
    out = tmp_path / "part.gcode"
    slice_to_gcode(mesh, settings, out)
    with out.open() as handle:
        moves, _ = parse_gcode(handle)
    return moves


def beads(moves: Moves, z: float, kinds: set[str], *, exclude: bool = False) -> shapely.Geometry:
    """The extrusions of layer `z` of these kinds (or of every other kind), as lines."""
    names = np.array(moves.features)[moves.feature_idx]
    chosen = np.isin(names, list(kinds)) != exclude
    length = np.hypot(moves.x - moves.x0, moves.y - moves.y0)
    on = (np.abs(moves.z - z) < 1e-6) & (moves.de > 0) & (length > 1e-6) & chosen
    coords = np.stack([moves.x0[on], moves.y0[on], moves.x[on], moves.y[on]], axis=1)
    return shapely.multilinestrings(list(coords.reshape(-1, 2, 2))) if on.any() else shapely.Point()


def layer_heights(moves: Moves) -> list[float]:
    return sorted({round(float(z), 3) for z in moves.z[moves.de > 0]})


def test_supports_under_a_60_degree_overhang_reach_the_bed_and_keep_off_the_part(
    tmp_path: Path,
) -> None:
    settings = SliceSettings(supports="bed")
    moves = sliced(overhang_part(60.0), settings, tmp_path)
    heights = layer_heights(moves)
    assert not beads(moves, heights[0], {SUPPORT, INTERFACE}).is_empty  # on the bed
    w = settings.line_width_mm
    checked = 0
    for z in heights:
        support = beads(moves, z, {SUPPORT, INTERFACE})
        part = beads(moves, z, {SUPPORT, INTERFACE, "Skirt"}, exclude=True)
        if support.is_empty or part.is_empty:
            continue
        checked += 1
        # bead edge to bead edge: the gap the settings ask for, less a line of rounding
        assert shapely.distance(support, part) - w >= settings.support_xy_gap_mm - w, z
    assert checked > 20


def test_the_interface_lies_under_the_overhang_one_empty_layer_below_it(tmp_path: Path) -> None:
    settings = SliceSettings(supports="bed")
    part = overhang_part(60.0)  # 10 mm wide at the bed, its right side leaning out at 60°
    place_on_bed(part, settings.bed_mm)
    left = float(part.bounds[0][0])
    moves = sliced(part, settings, tmp_path)
    h, w = settings.layer_height_mm, settings.line_width_mm
    found = 0
    for z in layer_heights(moves):
        interface = beads(moves, z, {INTERFACE})
        if interface.is_empty:
            continue
        found += 1
        xs = shapely.get_coordinates(interface)[:, 0]
        # not under the part's foot, and under where the part reaches two layers up (the
        # layer between is the gap): the part's right edge at height z is left + 10 + z·tan 60°
        reach = left + 10 + (z + 2 * h) * np.tan(np.radians(60))
        assert xs.min() >= left + 10 - w, z
        assert xs.max() <= reach + w, z
    assert found > 20


def test_bed_only_supports_never_stand_on_the_part_but_everywhere_ones_do(
    tmp_path: Path,
) -> None:
    slab = trimesh.creation.box(extents=(30.0, 10.0, 2.0))
    slab.apply_translation((15.0, 5.0, 1.0))
    pillar = trimesh.creation.box(extents=(5.0, 10.0, 8.0))
    pillar.apply_translation((2.5, 5.0, 6.0))
    roof = trimesh.creation.box(extents=(30.0, 10.0, 2.0))
    roof.apply_translation((15.0, 5.0, 11.0))
    shelf = trimesh.util.concatenate([slab, pillar, roof])  # a roof over a slab, on a pillar
    on_bed = sliced(shelf.copy(), SliceSettings(supports="bed"), tmp_path)
    assert SUPPORT not in on_bed.features and INTERFACE not in on_bed.features
    everywhere = sliced(shelf.copy(), SliceSettings(supports="everywhere"), tmp_path)
    lowest = min(
        z for z in layer_heights(everywhere) if not beads(everywhere, z, {SUPPORT}).is_empty
    )
    # it stands on the slab (top at 2 mm) with one empty layer between
    assert lowest == pytest.approx(2.0 + 2 * 0.2, abs=0.01)


def test_supports_off_by_default() -> None:
    assert SliceSettings().supports == "off"


def test_prepare_says_on_the_quote_that_supports_were_added(tmp_path: Path) -> None:
    # a ball overhangs at its foot however it is turned
    mesh = tmp_path / "ball.stl"
    trimesh.creation.icosphere(radius=10.0).export(mesh)
    prepared = prepare(
        mesh, "mesh", PrintProfile(supports="bed"), out_dir=tmp_path, engine="builtin"
    )
    assert "supports under overhangs steeper than 55°, standing on the bed only" in prepared.notes
    assert prepared.gcode_path is not None and gcode_has_supports(prepared.gcode_path)


def test_automatic_supports_stand_under_the_60_degree_overhang(tmp_path: Path) -> None:
    settings = SliceSettings(supports="auto")
    part = overhang_part(60.0)
    place_on_bed(part, settings.bed_mm)
    left = float(part.bounds[0][0])
    moves = sliced(part, settings, tmp_path)
    heights = layer_heights(moves)
    support = [z for z in heights if not beads(moves, z, {SUPPORT, INTERFACE}).is_empty]
    assert support and support[0] == heights[0]  # from the bed up
    assert len(support) > 30
    for z in support:
        # under the leaning side only, never under the part's foot
        xs = shapely.get_coordinates(beads(moves, z, {SUPPORT, INTERFACE}))[:, 0]
        assert xs.min() >= left + 10.0 - settings.line_width_mm, z


def test_automatic_supports_leave_the_calibration_cube_alone(
    meshes_dir: Path, tmp_path: Path
) -> None:
    # its engraved letters' ceilings are bridged, and nothing else overhangs
    cube = trimesh.load(meshes_dir / "XYZ-Cube.stl", force="mesh")
    assert isinstance(cube, trimesh.Trimesh)
    moves = sliced(cube, SliceSettings(supports="auto"), tmp_path)
    assert SUPPORT not in moves.features and INTERFACE not in moves.features


def test_automatic_supports_leave_3dbenchy_alone(meshes_dir: Path) -> None:
    # designed to print without: its roof and doorways are bridged, its hull's flare and
    # its window arches reach out two millimetres at most
    settings = SliceSettings(supports="auto")
    benchy = load_trimesh(meshes_dir / "3DBenchy.3mf", DEFAULT_LIMITS)
    check_and_repair(benchy, build_volumes=[PrintProfile().build_mm], nozzle_mm=0.4)
    orient(benchy)
    place_on_bed(benchy, settings.bed_mm)
    assert not needs_supports(benchy, settings)


def leaning_block(height: float, depth: float = 40.0) -> trimesh.Trimesh:
    """A block 10 mm wide at the bed, `depth` deep, its right side leaning out 60°."""
    reach = height * np.tan(np.radians(60.0))
    profile = [(0.0, 0.0), (10.0, 0.0), (10.0 + reach, height), (0.0, height)]
    return trimesh.convex.convex_hull(
        np.array([(x, y, z) for x, z in profile for y in (0.0, depth)])
    )


@pytest.mark.parametrize(("height", "supported"), [(1.6, False), (4.0, True)])
def test_a_60_degree_lean_is_supported_once_it_reaches_3_mm_out(
    height: float, supported: bool
) -> None:
    # 1.6 mm tall: 2.8 mm out, 19 mm² over air (a hull's flare, a lip); 4 mm: 6.9 mm out
    settings = SliceSettings(supports="auto")
    part = leaning_block(height)
    place_on_bed(part, settings.bed_mm)
    assert needs_supports(part, settings) is supported


def test_a_flat_ledge_is_supported_however_short(tmp_path: Path) -> None:
    # a 10 mm column under a 14 mm slab: a 2 mm ledge on either side, laid flat over air
    column = trimesh.creation.box(extents=(10.0, 10.0, 10.0))
    column.apply_translation((0.0, 0.0, 5.0))
    slab = trimesh.creation.box(extents=(14.0, 10.0, 2.0))
    slab.apply_translation((0.0, 0.0, 11.0))
    part = trimesh.util.concatenate([column, slab])
    assert isinstance(part, trimesh.Trimesh)
    settings = SliceSettings(supports="auto")
    moves = sliced(part, settings, tmp_path)
    support = beads(moves, 9.6, {SUPPORT, INTERFACE})
    assert not support.is_empty
    xs = shapely.get_coordinates(support)[:, 0]
    centre = float(part.bounds[:, 0].mean())  # placed on the bed by `sliced`
    assert (xs < centre - 5.0).any() and (xs > centre + 5.0).any()  # under both ledges


def test_a_job_left_to_the_farm_is_quoted_with_supports_only_when_it_needs_them(
    tmp_path: Path, meshes_dir: Path
) -> None:
    ball = tmp_path / "ball.stl"
    trimesh.creation.icosphere(radius=10.0).export(ball)
    auto = PrintProfile(supports="auto")
    prepared = prepare(ball, "mesh", auto, out_dir=tmp_path / "a", engine="builtin")
    assert any(
        n.startswith("supports added under overhangs steeper than 55°") for n in prepared.notes
    )
    assert prepared.gcode_path is not None and gcode_has_supports(prepared.gcode_path)
    cube = prepare(
        meshes_dir / "XYZ-Cube.stl", "mesh", auto, out_dir=tmp_path / "b", engine="builtin"
    )
    assert not any("support" in n for n in cube.notes)
    assert cube.gcode_path is not None and not gcode_has_supports(cube.gcode_path)


def test_prusaslicer_and_curaengine_are_asked_for_the_same_supports() -> None:
    settings = SliceSettings(supports="bed")
    ini = prusaslicer.ini_text(settings)
    assert "support_material = 1\n" in ini and "support_material_buildplate_only = 1\n" in ini
    assert "support_material_threshold = 35\n" in ini
    cura = curaengine.setting_values(settings, part_height_mm=10)
    assert cura["support_enable"] == "true" and cura["support_type"] == "buildplate"
    assert "support_material = 0\n" in prusaslicer.ini_text(SliceSettings())


def test_the_other_engines_are_asked_for_supports_when_our_rule_says_the_part_needs_them(
    meshes_dir: Path,
) -> None:
    settings = SliceSettings(supports="auto")
    ball = trimesh.creation.icosphere(radius=10.0)
    place_on_bed(ball, settings.bed_mm)
    assert needs_supports(ball, settings)
    cube = trimesh.load(meshes_dir / "XYZ-Cube.stl", force="mesh")
    assert isinstance(cube, trimesh.Trimesh)
    place_on_bed(cube, settings.bed_mm)
    assert not needs_supports(cube, settings)
