"""Solid skins and sparse infill, read back from the G-code: sparse lines reach the walls, a
narrow top surface is anchored into the infill, and solid laid onto sparse infill bridges it."""

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
from slicing.prepare import prepare
from slicing.profile import PrintProfile
from slicing.settings import SliceSettings
from slicing.skins import GRID_MM, SKIN_ANCHOR_MM, overlay

SETTINGS = SliceSettings()
W = SETTINGS.line_width_mm
FILAMENT_MM2 = math.pi * (SETTINGS.filament_diameter_mm / 2) ** 2


def sliced(mesh: trimesh.Trimesh, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """The G-code of `mesh` placed on the bed, and how far it was moved (x, y)."""
    before = mesh.bounds[0].copy()
    place_on_bed(mesh, SETTINGS.bed_mm)
    out = tmp_path / "part.gcode"
    slice_to_gcode(mesh, SETTINGS, out)
    return out, (mesh.bounds[0] - before)[:2]


def extrusions(gcode: Path, z: float, kinds: set[str]) -> dict[str, np.ndarray]:
    """Layer `z`'s extruding moves of `kinds`: segments (m, 2, 2), mm of filament (m,)."""
    with gcode.open() as handle:
        moves, _ = parse_gcode(handle)
    length = np.hypot(moves.x - moves.x0, moves.y - moves.y0)
    feature = np.array([moves.features[i] for i in moves.feature_idx])
    on = (np.abs(moves.z - z) < 1e-6) & (moves.de > 0) & (length > 1e-6)
    on &= np.isin(feature, sorted(kinds))
    segments = np.stack([moves.x0, moves.y0, moves.x, moves.y], axis=1)[on].reshape(-1, 2, 2)
    return {"segments": segments, "de": moves.de[on], "length": length[on]}


def beads(segments: np.ndarray) -> shapely.Geometry:
    return shapely.union_all(shapely.buffer(shapely.linestrings(segments), W / 2))


def test_sparse_lines_reach_the_inner_perimeter(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(20.0, 20.0, 6.0))
    gcode, _ = sliced(box, tmp_path)
    loops = extrusions(gcode, 3.0, {"Perimeter"})["segments"]
    # the infill area: inside the inner perimeter's bead
    inner_loop = shapely.Polygon(np.r_[loops[:, 0], loops[-1:, 1]])
    area = shapely.buffer(inner_loop, -SETTINGS.spacing() / 2)
    sparse = extrusions(gcode, 3.0, {"Internal infill"})["segments"]
    assert len(sparse)
    ends = shapely.points(sparse.reshape(-1, 2))
    # every zig-zag turns on the edge of the area: a line ends where the bead of the
    # connector along the wall begins, half a line in (pulled back by half its connector,
    # lines stopped a millimetre short of the wall, unanchored)
    assert float(shapely.distance(area.exterior, ends).max()) < 0.55 * W


def test_a_narrow_floor_is_anchored_into_the_infill_below_it(tmp_path: Path) -> None:
    # a 20 mm block, and on it a block with a groove 1 mm deep and 10 mm wide cut into its
    # side from z = 6 (an engraved letter's floor is such a ledge)
    lower = trimesh.creation.box(extents=(20.0, 20.0, 6.0))
    lower.apply_translation((10.0, 10.0, 3.0))
    blocks = [lower]
    for x0, y0, x1, y1 in ((0, 0, 5, 20), (15, 0, 20, 20), (5, 0, 15, 19)):
        block = trimesh.creation.box(extents=(x1 - x0, y1 - y0, 6.0))
        block.apply_translation(((x0 + x1) / 2, (y0 + y1) / 2, 9.0))
        blocks.append(block)
    part = trimesh.util.concatenate(blocks)
    assert isinstance(part, trimesh.Trimesh)
    gcode, moved = sliced(part, tmp_path)
    # the floor's skin reaches SKIN_ANCHOR_MM past its edge into the part, in every one of
    # its top layers; without the anchor it was a strip a line wide along the wall
    probe = shapely.Point(10.0 + moved[0], 19.0 - SKIN_ANCHOR_MM + 0.5 + moved[1])
    for z in np.round(6.0 - np.arange(SETTINGS.top_layers) * SETTINGS.layer_height_mm, 3):
        solid = extrusions(gcode, float(z), {"Solid infill", "Bridge infill"})["segments"]
        assert len(solid), z
        assert shapely.distance(beads(solid), probe) == 0.0, z
        sparse = extrusions(gcode, float(z), {"Internal infill"})["segments"]
        assert shapely.distance(beads(sparse), probe) > 0.0, z


def test_the_first_solid_layer_over_sparse_infill_bridges_it(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(20.0, 20.0, 10.0))
    gcode, _ = sliced(box, tmp_path)
    h = SETTINGS.layer_height_mm
    first_solid = round(10.0 - (SETTINGS.top_layers - 1) * h, 3)
    bridge = extrusions(gcode, first_solid, {"Bridge infill"})
    solid = extrusions(gcode, first_solid, {"Solid infill"})
    below = extrusions(gcode, round(first_solid - h, 3), {"Internal infill"})
    # all of it but the corners the bridge's rounded outline leaves
    assert solid["length"].sum() < 0.02 * bridge["length"].sum()
    # laid as a round thread, as bridges are
    flow = bridge["de"].sum() * FILAMENT_MM2 / bridge["length"].sum()
    assert abs(flow - SETTINGS.bridge_mm2()) < 0.01 * SETTINGS.bridge_mm2()
    # across the sparse lines it rests on

    def direction(segments: np.ndarray) -> float:
        longest = segments[np.argmax(np.hypot(*(segments[:, 1] - segments[:, 0]).T))]
        dx, dy = longest[1] - longest[0]
        return math.degrees(math.atan2(dy, dx)) % 180

    turn = abs(direction(bridge["segments"]) - direction(below["segments"]))
    assert abs(turn - 90.0) < 1.0
    # the layer above it is an ordinary solid layer
    above = extrusions(gcode, round(first_solid + h, 3), {"Solid infill", "Bridge infill"})
    assert len(above["segments"])
    assert not len(extrusions(gcode, round(first_solid + h, 3), {"Bridge infill"})["segments"])


def test_an_overlay_geos_gives_up_on_is_done_on_the_outlines_grid() -> None:
    # 3DBenchy's internal bridges met "Unable to determine overlay result geometry
    # dimension" (prepare() in bench_slicing's cache step); a failing op is retried on the grid
    calls: list[dict[str, object]] = []

    def flaky(a: object, b: object, **kwargs: object) -> object:
        calls.append(kwargs)
        if not kwargs:
            raise shapely.errors.GEOSException("Unable to determine overlay result")
        return shapely.intersection(a, b, **kwargs)

    result = overlay(flaky, shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3))
    assert calls == [{}, {"grid_size": GRID_MM}]
    assert result.area == pytest.approx(1.0)


def test_prepare_slices_3dbenchy_with_the_built_in_engine(meshes_dir: Path, tmp_path: Path) -> None:
    prepared = prepare(
        meshes_dir / "3DBenchy.3mf", "mesh", PrintProfile(), out_dir=tmp_path, engine="builtin"
    )
    assert prepared.gcode_path is not None and prepared.layers > 200
    assert 12.0 < prepared.grams_per_copy < 15.0
