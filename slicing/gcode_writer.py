"""Toolpaths to G-code text: travel with retraction, extrusion from line width and layer height.

Extrusion is relative (M83) and uses the rounded bead model of SliceSettings.bead_mm2: E per
mm = bead cross-section / filament cross-section. Lines are spaced so that at 100% infill the
printed volume equals the sliced area times the layer height.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slicing.gcode_parse import Limits, Moves, parse_gcode
from slicing.settings import SliceSettings
from slicing.toolpaths import EXTERNAL, PERIMETER, SKIRT, SOLID, SPARSE, Layer, Toolpath

ENGINE_NAME = "farm-builtin"
ENGINE_VERSION = "0.1"


@dataclass(frozen=True)
class Body:
    lines: list[str]
    filament_mm: float
    moves: Moves  # the layers' motion, for the estimate without parsing `lines` again
    start_moves: Moves  # the start G-code's motion


class _MoveLog:
    """Columns of every move as it is written: (x0, y0, z0, x, y, z, de, feed) chunks."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []

    def add(
        self, start: np.ndarray, end: np.ndarray, z0: float, z: float, de: np.ndarray, feed: float
    ) -> None:
        n = len(end)
        chunk = np.empty((n, 8))
        chunk[:, 0:2] = start
        chunk[:, 2] = z0
        chunk[:, 3:5] = end
        chunk[:, 5] = z
        chunk[:, 6] = de
        chunk[:, 7] = feed
        self.chunks.append(chunk)

    def point(
        self,
        xy: np.ndarray,
        z0: float,
        z: float,
        de: float,
        feed: float,
        to: np.ndarray | None = None,
    ) -> None:
        self.add(xy[None], (xy if to is None else to)[None], z0, z, np.array([de]), feed)

    def moves(self, limits: Limits) -> Moves:
        cols = np.concatenate(self.chunks) if self.chunks else np.zeros((0, 8))
        n = len(cols)
        zeros = np.zeros(n, dtype=np.int32)
        col = [np.ascontiguousarray(cols[:, k]) for k in range(8)]
        return Moves(
            x0=col[0], y0=col[1], z0=col[2], x=col[3], y=col[4], z=col[5], de=col[6], feed=col[7],
            limits_idx=zeros, feature_idx=zeros, line_no=zeros, limits=[limits], features=["Unknown"],
        )  # fmt: skip


def _speed(kind: str, first_layer: bool, s: SliceSettings) -> float:
    if first_layer:
        return s.first_layer_speed
    return {
        EXTERNAL: s.external_perimeter_speed,
        PERIMETER: s.perimeter_speed,
        SOLID: s.solid_infill_speed,
        SPARSE: s.infill_speed,
        SKIRT: s.perimeter_speed,
    }.get(kind, s.perimeter_speed)


def _extrusion_moves(
    points: np.ndarray, e_per_mm: float
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """G1 lines drawing `points` (n, 2) from its first point; their end points and E values."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    keep = seg > 1e-4
    e = seg[keep] * e_per_mm
    xy = points[1:][keep]
    lines = [
        f"G1 X{px:.3f} Y{py:.3f} E{pe:.5f}"
        for px, py, pe in zip(xy[:, 0].tolist(), xy[:, 1].tolist(), e.tolist(), strict=True)
    ]
    return lines, xy, e


def render_body(layers: Sequence[Layer], s: SliceSettings) -> Body:
    """Start G-code, every layer, end G-code; returns the lines and the filament used."""
    filament_area = math.pi * (s.filament_diameter_mm / 2.0) ** 2
    start_lines = s.start().splitlines()
    start_moves, _ = parse_gcode(start_lines)
    out: list[str] = list(start_lines)
    log = _MoveLog()
    filament = 0.0
    retracted = True  # the start G-code ends with a retraction
    pos = np.array([start_moves.x[-1], start_moves.y[-1]]) if len(start_moves.x) else np.zeros(2)
    z_now = float(start_moves.z[-1]) if len(start_moves.x) else 0.0
    travel, pull = s.travel_speed, s.retract_speed
    travel_f = f"F{travel * 60:.0f}"
    retract = f"G1 E-{s.retract_mm:.3f} F{pull * 60:.0f}"
    unretract = f"G1 E{s.retract_mm:.3f} F{pull * 60:.0f}"
    top = 0.0
    for index, layer in enumerate(layers):
        first = index == 0
        out += [
            ";LAYER_CHANGE",
            f";Z:{layer.z:.3f}",
            f";HEIGHT:{layer.height:.3f}",
            f";LAYER:{index}",
        ]
        if not retracted:
            out.append(retract)
            log.point(pos, z_now, z_now, -s.retract_mm, pull)
            retracted = True
        out.append(f"G1 Z{layer.z:.3f} F720")
        log.point(pos, z_now, layer.z, 0.0, 12.0)
        z_now = layer.z
        if index == 1 and s.fan_percent > 0:
            out.append(f"M106 S{round(255 * s.fan_percent / 100)}")
        e_per_mm = s.bead_mm2(layer.height) / filament_area
        kind = ""
        for path in layer.paths:
            start = path.points[0]
            gap = float(np.hypot(*(start - pos)))
            if gap > 1e-4:
                if gap > s.retract_min_travel_mm and not retracted and not path.linked:
                    out.append(retract)
                    log.point(pos, z_now, z_now, -s.retract_mm, pull)
                    retracted = True
                out.append(f"G0 X{start[0]:.3f} Y{start[1]:.3f} {travel_f}")
                log.point(pos, z_now, z_now, 0.0, travel, to=start)
            if retracted:
                out.append(unretract)
                log.point(start, z_now, z_now, s.retract_mm, pull)
                retracted = False
            if path.kind != kind:
                kind = path.kind
                out.append(f";TYPE:{kind}")
            speed = _speed(kind, first, s)
            out.append(f"G1 F{speed * 60:.0f}")
            lines, xy, e = _extrusion_moves(path.points, e_per_mm)
            out += lines
            if len(xy):
                log.add(np.vstack([start[None], xy[:-1]]), xy, z_now, z_now, e, speed)
            filament += float(e.sum())
            pos = path.points[-1]
        top = layer.z
    if not retracted:
        out.append(retract)
        log.point(pos, z_now, z_now, -s.retract_mm, pull)
    out += s.end(top).splitlines()
    return Body(out, filament, log.moves(start_moves.limits[-1]), start_moves)


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


def paths_of(layers: Sequence[Layer]) -> list[Toolpath]:
    return [path for layer in layers for path in layer.paths]
