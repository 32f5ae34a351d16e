"""Toolpaths to G-code text: travel with retraction, extrusion from line width and layer height.

Extrusion is relative (M83) and uses the rounded bead model of SliceSettings.bead_mm2: E per
mm = bead cross-section / filament cross-section. Lines are spaced so that at 100% infill the
printed volume equals the sliced area times the layer height.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from slicing.gcode_parse import Limits, Moves, parse_gcode
from slicing.settings import SliceSettings
from slicing.toolpaths_base import Kind, Layer

ENGINE_NAME = "farm-builtin"
ENGINE_VERSION = "0.2"


@dataclass(frozen=True)
class Body:
    lines: list[str]
    filament_mm: float
    moves: Moves  # the layers' motion, for the estimate without parsing `lines` again
    start_moves: Moves  # the start G-code's motion


def _rows(rows: list[tuple[float, ...]]) -> np.ndarray:
    return np.array(rows, dtype=float).reshape(-1, 8)


def _speed(kind: Kind, first_layer: bool, s: SliceSettings) -> float:
    if first_layer:
        return s.first_layer_speed
    return {
        Kind.EXTERNAL: s.external_perimeter_speed,
        Kind.PERIMETER: s.perimeter_speed,
        Kind.SOLID: s.solid_infill_speed,
        Kind.SPARSE: s.infill_speed,
        Kind.SKIRT: s.perimeter_speed,
        Kind.BRIDGE: s.bridge_speed,
        Kind.OVERHANG: s.bridge_speed,  # as PrusaSlicer's overhang perimeters
        Kind.BRIM: s.perimeter_speed,
        Kind.GAP_FILL: s.solid_infill_speed,  # PrusaSlicer's gap_fill_speed, as its .ini sets
        Kind.SUPPORT: s.infill_speed,
        Kind.SUPPORT_INTERFACE: s.solid_infill_speed,
    }.get(kind, s.perimeter_speed)


@dataclass(frozen=True)
class _LayerSegments:
    """Every extrusion segment of one layer, computed at once: (m,) arrays and G1 lines."""

    lines: list[str]
    rows: np.ndarray  # (m, 8): x0, y0, z0, x, y, z, de, feed
    bounds: np.ndarray  # (paths + 1,): path k's segments are rows[bounds[k]:bounds[k + 1]]
    speeds: np.ndarray  # (paths,) mm/s


def _segments_of(
    layer: Layer, first: bool, s: SliceSettings, filament_area: float
) -> _LayerSegments:
    speeds = np.array([_speed(p.kind, first, s) for p in layer.paths])
    bead, bridge = s.bead_mm2(layer.height), s.bridge_mm2()
    flows = np.array(
        [
            p.flow_mm2
            if p.flow_mm2 is not None
            else bridge
            if p.kind in (Kind.BRIDGE, Kind.OVERHANG)
            else bead
            for p in layer.paths
        ]
    )
    return _layer_segments(layer, flows / filament_area, speeds)


def _layer_segments(layer: Layer, e_per_mm: np.ndarray, speeds: np.ndarray) -> _LayerSegments:
    """`e_per_mm` and `speeds`: (paths,) filament mm per mm and mm/s of each path."""
    counts = np.array([len(p.points) for p in layer.paths])
    points = np.concatenate([p.points for p in layer.paths])
    firsts = np.r_[0, np.cumsum(counts)]
    length = np.hypot(*np.diff(points, axis=0).T)
    keep = length > 1e-4
    keep[firsts[1:-1] - 1] = False  # no segment joins the end of one path to the next
    index = np.flatnonzero(keep)
    owner = np.searchsorted(firsts, index, side="right") - 1
    rows = np.empty((len(index), 8))
    rows[:, 0:2] = points[index]
    rows[:, 3:5] = points[index + 1]
    rows[:, 2] = rows[:, 5] = layer.z
    rows[:, 6] = length[index] * e_per_mm[owner]
    rows[:, 7] = speeds[owner]
    lines = [
        f"G1 X{x:.3f} Y{y:.3f} E{e:.5f}"
        for x, y, e in zip(
            rows[:, 3].tolist(), rows[:, 4].tolist(), rows[:, 6].tolist(), strict=True
        )
    ]
    bounds = np.searchsorted(owner, np.arange(len(counts) + 1))
    return _LayerSegments(lines, rows, bounds, speeds)


def render_body(layers: Sequence[Layer], s: SliceSettings) -> Body:
    """Start G-code, every layer, end G-code; returns the lines and the filament used."""
    filament_area = math.pi * (s.filament_diameter_mm / 2.0) ** 2
    start_lines = s.start().splitlines()
    start_moves, _ = parse_gcode(start_lines)
    out: list[str] = list(start_lines)
    blocks: list[np.ndarray] = []  # move rows in the order they are written
    pending: list[tuple[float, ...]] = []  # single moves not yet in `blocks`
    filament = 0.0
    retracted = True  # the start G-code ends with a retraction
    x, y = (
        (float(start_moves.x[-1]), float(start_moves.y[-1])) if len(start_moves.x) else (0.0, 0.0)
    )
    z = float(start_moves.z[-1]) if len(start_moves.x) else 0.0
    travel, pull, r = s.travel_speed, s.retract_speed, s.retract_mm
    travel_f = f"F{travel * 60:.0f}"
    retract = f"G1 E-{r:.3f} F{pull * 60:.0f}"
    unretract = f"G1 E{r:.3f} F{pull * 60:.0f}"
    top = 0.0
    memo: dict[tuple[int, float, bool], _LayerSegments] = {}
    for index, layer in enumerate(layers):
        out += [
            ";LAYER_CHANGE",
            f";Z:{layer.z:.3f}",
            f";HEIGHT:{layer.height:.3f}",
            f";LAYER:{index}",
        ]
        if not retracted:
            out.append(retract)
            pending.append((x, y, z, x, y, z, -r, pull))
            retracted = True
        out.append(f"G1 Z{layer.z:.3f} F720")
        pending.append((x, y, z, x, y, layer.z, 0.0, 12.0))
        z = layer.z
        if index == 1 and s.fan_percent > 0:
            out.append(f"M106 S{round(255 * s.fan_percent / 100)}")
        if not layer.paths:
            continue
        # a repeated layer shares its path list with the one it repeats (plan_layers): its
        # G1 lines are the same, only the rows' Z differs
        key = (id(layer.paths), round(layer.height, 6), index == 0)
        if key not in memo:
            memo[key] = _segments_of(layer, index == 0, s, filament_area)
        segs = memo[key]
        if len(segs.rows) and segs.rows[0, 2] != layer.z:
            segs = replace(segs, rows=segs.rows.copy())
            segs.rows[:, 2] = segs.rows[:, 5] = layer.z
        speeds = segs.speeds
        filament += float(segs.rows[:, 6].sum())
        kind = ""
        for k, path in enumerate(layer.paths):
            sx, sy = float(path.points[0, 0]), float(path.points[0, 1])
            gap = math.hypot(sx - x, sy - y)
            if gap > 1e-4:
                if gap > s.retract_min_travel_mm and not retracted and not path.linked:
                    out.append(retract)
                    pending.append((x, y, z, x, y, z, -r, pull))
                    retracted = True
                out.append(f"G0 X{sx:.3f} Y{sy:.3f} {travel_f}")
                pending.append((x, y, z, sx, sy, z, 0.0, travel))
            if retracted:
                out.append(unretract)
                pending.append((sx, sy, z, sx, sy, z, r, pull))
                retracted = False
            if path.kind != kind:
                kind = path.kind
                out.append(f";TYPE:{kind}")
            out.append(f"G1 F{speeds[k] * 60:.0f}")
            lo, hi = int(segs.bounds[k]), int(segs.bounds[k + 1])
            out += segs.lines[lo:hi]
            if pending:
                blocks.append(_rows(pending))
                pending = []
            blocks.append(segs.rows[lo:hi])
            x, y = float(path.points[-1, 0]), float(path.points[-1, 1])
        top = layer.z
    if not retracted:
        out.append(retract)
        pending.append((x, y, z, x, y, z, -r, pull))
    blocks.append(_rows(pending))
    out += s.end(top).splitlines()
    return Body(out, filament, _moves(np.concatenate(blocks), start_moves.limits[-1]), start_moves)


def _moves(rows: np.ndarray, limits: Limits) -> Moves:
    zeros = np.zeros(len(rows), dtype=np.int32)
    col = [np.ascontiguousarray(rows[:, k]) for k in range(8)]
    return Moves(
        x0=col[0], y0=col[1], z0=col[2], x=col[3], y=col[4], z=col[5], de=col[6], feed=col[7],
        limits_idx=zeros, feature_idx=zeros, line_no=zeros, limits=[limits], features=["Unknown"],
    )  # fmt: skip


def thumbnail_block(png: bytes, width: int, height: int) -> list[str]:
    """The PNG as the comment block PrusaSlicer writes and OctoPrint and Prusa firmware read."""
    data = base64.b64encode(png).decode("ascii")
    rows = [data[i : i + 78] for i in range(0, len(data), 78)]
    return (
        [";", f"; thumbnail begin {width}x{height} {len(data)}"]
        + [f"; {row}" for row in rows]
        + ["; thumbnail end", ";"]
    )


def header(
    s: SliceSettings,
    *,
    seconds: float,
    filament_mm: float,
    layers: int,
    copies: int,
) -> list[str]:
    """Metadata a farm needs, in the `; key = value` form other tools already parse."""
    grams = filament_mm * math.pi * (s.filament_diameter_mm / 2) ** 2 * s.density_g_cm3 / 1000
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    w, d = s.bed_mm
    return [
        f"; generated by {ENGINE_NAME} {ENGINE_VERSION}",
        f"; estimated printing time (normal mode) = {hours}h {minutes}m {secs}s",
        f";TIME:{int(round(seconds))}",
        f"; filament used [mm] = {filament_mm:.2f}",
        f"; filament used [g] = {grams:.2f}",
        f"; total layers count = {layers}",
        f";LAYER_COUNT:{layers}",
        f"; copies = {copies}",
        f"; filament_type = {s.material}",
        f"; nozzle_diameter = {s.nozzle_mm}",
        f"; filament_diameter = {s.filament_diameter_mm}",
        f"; bed_shape = 0x0,{w:g}x0,{w:g}x{d:g},0x{d:g}",
        f"; max_print_height = {s.max_height_mm:g}",
        f"; layer_height = {s.layer_height_mm}",
        f"; first_layer_height = {s.first_layer_mm}",
        f"; extrusion_width = {s.line_width_mm}",
        f"; perimeters = {s.perimeters}",
        f"; top_solid_layers = {s.top_layers}",
        f"; bottom_solid_layers = {s.bottom_layers}",
        f"; fill_density = {s.infill * 100:.0f}%",
        f"; temperature = {s.nozzle_temp_c}",
        f"; bed_temperature = {s.bed_temp_c}",
    ]
