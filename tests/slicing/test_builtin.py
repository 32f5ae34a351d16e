from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh

from slicing.analysis import analyse_file
from slicing.builtin import slice_to_gcode
from slicing.gcode_parse import Moves, parse_gcode
from slicing.infill import fill_lines
from slicing.orient import place_on_bed
from slicing.settings import SliceSettings
from slicing.toolpaths_base import Kind

SETTINGS = SliceSettings()


def _slice(tmp_path: Path, mesh: trimesh.Trimesh, settings: SliceSettings = SETTINGS) -> Path:
    place_on_bed(mesh, settings.bed_mm)
    out = tmp_path / "part.gcode"
    slice_to_gcode(mesh, settings, out)
    return out


def _moves(path: Path) -> Moves:
    with path.open() as handle:
        moves, _ = parse_gcode(handle)
    return moves


@pytest.fixture(scope="module")
def tube_gcode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 mm tube with a 10 mm hole, 6 mm tall: outer and inner perimeters, solid skins."""
    tube = trimesh.creation.annulus(r_min=5.0, r_max=15.0, height=6.0, sections=64)
    return _slice(tmp_path_factory.mktemp("tube"), tube)


def _runs(moves: Moves, printing: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) move index of every maximal run of consecutive printing moves."""
    edges = np.diff(np.r_[0, printing.astype(int), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def test_every_perimeter_is_a_closed_loop(tube_gcode: Path) -> None:
    moves = _moves(tube_gcode)
    kinds = [moves.features.index(k) for k in (Kind.EXTERNAL, Kind.PERIMETER)]
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0
    printing = (moves.de > 0) & planar & np.isin(moves.feature_idx, kinds)
    runs = _runs(moves, printing)
    assert len(runs) >= 4 * 30  # two perimeters around the outside and the hole, per layer
    for first, last in runs:
        start = (moves.x0[first], moves.y0[first])
        end = (moves.x[last], moves.y[last])
        assert end == pytest.approx(start, abs=2e-3)


def test_no_move_leaves_the_bed(tube_gcode: Path) -> None:
    moves = _moves(tube_gcode)
    width, depth = SETTINGS.bed_mm
    for axis, limit in ((moves.x, width), (moves.y, depth)):
        assert axis.min() >= 0.0
        assert axis.max() <= limit


def test_extrusion_per_millimetre_matches_line_width_and_layer_height(tube_gcode: Path) -> None:
    moves = _moves(tube_gcode)
    length = np.hypot(moves.x - moves.x0, moves.y - moves.y0)
    printing = (moves.de > 0) & (length > 0.5) & (moves.z > 0.3)
    # the first solid layer over the sparse infill bridges it, as a round thread
    bridge = np.array([moves.features[i] == Kind.BRIDGE.value for i in moves.feature_idx])
    filament_area = math.pi * (SETTINGS.filament_diameter_mm / 2) ** 2
    # w·h less the rounded sides of the bead: (w - h(1 - π/4))·h
    h, w = SETTINGS.layer_height_mm, SETTINGS.line_width_mm
    expected = (w - h * (1 - math.pi / 4)) * h / filament_area
    beads = printing & ~bridge
    assert moves.de[beads] / length[beads] == pytest.approx(expected, rel=0.01)
    threads = printing & bridge
    assert threads.any()
    assert moves.de[threads] / length[threads] == pytest.approx(
        SETTINGS.bridge_mm2() / filament_area, rel=0.01
    )


def test_the_e_axis_never_extrudes_while_retracted(tube_gcode: Path) -> None:
    moves = _moves(tube_gcode)
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0
    e_only = ~planar & (moves.z == moves.z0)
    retracted = np.cumsum(np.where(e_only, moves.de, 0.0))
    # after the start G-code's prime line, the filament is either primed (0) or pulled back
    first_layer = int(np.argmax(moves.z > 0.15))
    state = retracted[first_layer:] - retracted[-1]
    assert set(np.round(np.unique(state), 3)) <= {0.0, round(SETTINGS.retract_mm, 3)}
    printing = (moves.de > 0) & planar
    assert np.all(state[printing[first_layer:]] == pytest.approx(0.8, abs=1e-6))


def test_heights_rise_monotonically(tube_gcode: Path) -> None:
    moves = _moves(tube_gcode)
    printing = (moves.de > 0) & (np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0)
    zs = moves.z[printing]
    assert np.all(np.diff(zs) >= 0)
    assert zs.max() == pytest.approx(6.0, abs=0.11)


def test_the_printed_volume_matches_the_mesh_at_full_infill(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(20.0, 14.0, 4.0))
    out = _slice(tmp_path, box, SETTINGS.with_changes(infill=1.0, skirts=0))
    moves = _moves(out)
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0
    after_prime = moves.z > 0.15
    extruded = moves.de[(moves.de > 0) & planar & after_prime].sum()
    volume = extruded * math.pi * (SETTINGS.filament_diameter_mm / 2) ** 2
    assert volume == pytest.approx(box.volume, rel=0.05)


def test_the_header_carries_metadata_and_a_png_thumbnail(tube_gcode: Path) -> None:
    text = tube_gcode.read_text()
    assert "; generated by farm-builtin" in text
    assert "; nozzle_diameter = 0.4" in text
    assert "; filament_type = PLA" in text
    block = text.split("; thumbnail begin 220x124 ", 1)[1].split("; thumbnail end", 1)[0]
    size, *rows = block.splitlines()
    data = "".join(row[2:] for row in rows)
    assert len(data) == int(size)
    assert base64.b64decode(data).startswith(b"\x89PNG")


def test_the_header_estimate_is_the_analysers(tube_gcode: Path) -> None:
    with tube_gcode.open() as handle:
        _, meta = parse_gcode(handle)
    assert meta.slicer.startswith("farm-builtin")
    # the writer estimates from its own toolpaths; reading the file back must agree
    assert meta.stated_seconds == pytest.approx(analyse_file(tube_gcode).seconds, rel=0.005)


def test_it_finishes_one_island_before_moving_to_the_next(tmp_path: Path) -> None:
    left = trimesh.creation.box(extents=(10.0, 10.0, 2.0))
    right = trimesh.creation.box(extents=(10.0, 10.0, 2.0))
    right.apply_translation((40.0, 0.0, 0.0))
    pair = trimesh.util.concatenate([left, right])
    assert isinstance(pair, trimesh.Trimesh)
    moves = _moves(_slice(tmp_path, pair, SETTINGS.with_changes(skirts=0)))
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0
    printing = (moves.de > 0) & planar & (moves.z > 0.3)  # past the prime line
    middle = SETTINGS.bed_mm[0] / 2  # the pair is centred on the bed
    for z in np.unique(moves.z[printing]):
        side = moves.x[printing & (moves.z == z)] > middle
        assert np.count_nonzero(np.diff(side.astype(int))) == 1  # one hop per layer


# A corner of one bunny layer's sparse infill area: valid, but a hair-thin spike in it crosses
# itself once turned by 135° for the scan lines.
SPIKED = (
    "POLYGON ((122.53458543562903 43.81626403996204, 122.47290072808671 43.88922856681242, "
    "122.06079658420786 44.65160488, 123.64841558 44.65160488, 123.64841558 42.65160488, "
    "123.49408889445223 42.65160488, 123.10589653931143 42.98032003633203, "
    "123.05991437047345 43.0525437601971, 123.0152180873118 43.113286147327315, "
    "122.96818870071168 43.18715266550998, 122.9236107357918 43.24773318942345, "
    "122.87648346178165 43.32175518746687, 122.83179033481143 43.38249190981111, "
    "122.78476064798016 43.45635960702584, 122.74006849994483 43.51709542745266, "
    "122.6930388982662 43.5909623552216, 122.64841558205516 43.65160487733944, "
    "123.09300454554808 42.95330387589438, 122.60133135665613 43.72555849393417, "
    "122.53458543562903 43.81626403996204))"
)


def test_infill_stays_inside_an_area_that_turns_invalid_when_rotated() -> None:
    area = shapely.from_wkt(SPIKED)
    paths = fill_lines(area, 0.1, 135.0, Kind.SPARSE)
    points = np.concatenate([p.points for p in paths])
    lo_x, lo_y, hi_x, hi_y = area.bounds
    assert points[:, 0].min() >= lo_x - 1e-6 and points[:, 0].max() <= hi_x + 1e-6
    assert points[:, 1].min() >= lo_y - 1e-6 and points[:, 1].max() <= hi_y + 1e-6


def test_a_slab_between_two_pillars_is_bridged_across_the_gap(tmp_path: Path) -> None:
    left = trimesh.creation.box(extents=(6.0, 16.0, 6.0))
    left.apply_translation((-12.0, 0.0, 3.0))
    right = left.copy()
    right.apply_translation((24.0, 0.0, 0.0))
    slab = trimesh.creation.box(extents=(30.0, 16.0, 2.0))
    slab.apply_translation((0.0, 0.0, 7.0))
    table = trimesh.util.concatenate([left, right, slab])
    assert isinstance(table, trimesh.Trimesh)
    moves = _moves(_slice(tmp_path, table, SETTINGS.with_changes(skirts=0)))
    bridge = moves.feature_idx == moves.features.index("Bridge infill")
    length = np.hypot(moves.x - moves.x0, moves.y - moves.y0)
    lines = bridge & (moves.de > 0) & (length > 5.0)
    # the slab's first layer, over air; and its first top layer, over its sparse infill
    assert set(np.round(moves.z[lines], 3)) == {6.2, 7.2}
    lines &= np.round(moves.z, 3) == 6.2
    # the lines run along X, from pillar to pillar, with a round nozzle-wide bead
    assert np.all(np.abs(moves.y[lines] - moves.y0[lines]) < 1e-3)
    filament_area = math.pi * (SETTINGS.filament_diameter_mm / 2) ** 2
    expected = math.pi / 4 * SETTINGS.nozzle_mm**2 / filament_area
    assert moves.de[lines] / length[lines] == pytest.approx(expected, rel=0.01)


def test_a_brim_surrounds_the_first_layer_only(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(10.0, 10.0, 2.0))
    moves = _moves(_slice(tmp_path, box, SETTINGS.with_changes(brim_mm=3.0)))
    brim = (moves.feature_idx == moves.features.index("Brim")) & (moves.de > 0)
    assert set(np.round(moves.z[brim], 3)) == {0.2}
    # loops from half a line outside the part out to about 3 mm, all around it
    assert moves.x[brim].min() == pytest.approx(120.0 - 3.0, abs=0.5)
    assert moves.x[brim].max() == pytest.approx(130.0 + 3.0, abs=0.5)
    skirt = (moves.feature_idx == moves.features.index("Skirt")) & (moves.de > 0)
    assert moves.x[skirt].min() < moves.x[brim].min() - 2.5


@pytest.mark.parametrize(
    ("line", "nozzle"), [("; nozzle_diameter = .", None), ("; nozzle_diameter = .6", 0.6)]
)
def test_a_header_number_that_is_only_a_dot_is_no_number(line: str, nozzle: float | None) -> None:
    # Found by the G-code fuzz test: float(".") raised from inside the parser.
    _, meta = parse_gcode([line, "; filament_diameter = ."])
    assert (meta.nozzle_mm, meta.filament_diameter_mm) == (nozzle, None)
