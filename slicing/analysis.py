"""G-code analysis for every G-code, ours, external or uploaded: time, filament, layers, size,
and the checks that refuse a file which does not belong on the printer it is sent to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from slicing.errors import GcodeRefused, PartTooLargeError
from slicing.gcode_parse import Limits, Meta, Moves, parse_gcode
from slicing.motion import move_times

# Hotend ranges in °C that the common filaments print at; outside them a file was sliced for
# another material (or is a typo that will clog or burn the nozzle).
MATERIAL_TEMPS: dict[str, tuple[float, float]] = {
    "PLA": (180, 235),
    "PETG": (215, 260),
    "ABS": (220, 270),
    "ASA": (225, 275),
    "TPU": (200, 250),
    "PA": (235, 300),
    "NYLON": (235, 300),
    "PC": (250, 310),
}
BED_MARGIN_MM = 5.0  # prime lines and parking often sit just outside the nominal bed


@dataclass(frozen=True)
class Analysis:
    seconds: float  # our motion-model estimate
    stated_seconds: float | None  # what the slicer wrote in the file, when plausible
    filament_mm: float
    filament_mm3: float
    layers: int
    layer_heights: list[float]
    bbox_min: tuple[float, float, float]  # of extruding moves
    bbox_max: tuple[float, float, float]
    travel_min: tuple[float, float, float]  # of every move
    travel_max: tuple[float, float, float]
    moves: int
    slicer: str
    nozzle_mm: float | None
    hotend_c: float | None
    bed_c: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def size_mm(self) -> tuple[float, float, float]:
        lo, hi = self.bbox_min, self.bbox_max
        return (hi[0] - lo[0], hi[1] - lo[1], hi[2])

    def reach_mm(self) -> tuple[float, float, float]:
        """The build volume this file needs from the origin: the furthest it extrudes, or
        travels less the margin `check_for_printer` allows beyond the bed."""
        hi, thi = self.bbox_max, self.travel_max
        return (
            max(hi[0], thi[0] - BED_MARGIN_MM),
            max(hi[1], thi[1] - BED_MARGIN_MM),
            max(hi[2], thi[2] - BED_MARGIN_MM),
        )

    def grams(self, density_g_cm3: float) -> float:
        return self.filament_mm3 * density_g_cm3 / 1000.0


def analyse_lines(
    lines: Iterable[str], *, filament_diameter_mm: float = 1.75, limits: Limits | None = None
) -> Analysis:
    moves, meta = parse_gcode(lines, limits)
    return analyse_moves(moves, meta, filament_diameter_mm=filament_diameter_mm)


def analyse_file(
    path: Path, *, filament_diameter_mm: float = 1.75, limits: Limits | None = None
) -> Analysis:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return analyse_lines(handle, filament_diameter_mm=filament_diameter_mm, limits=limits)


def analyse_moves(moves: Moves, meta: Meta, *, filament_diameter_mm: float = 1.75) -> Analysis:
    notes = list(meta.notes)
    if len(moves.x) == 0 or not np.any(moves.de > 0):
        raise GcodeRefused("the G-code never extrudes: there is nothing to print")
    seconds = float(move_times(moves).sum() + moves.dwell_s)
    diameter = meta.filament_diameter_mm or filament_diameter_mm
    filament = float(moves.de.sum())
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 1e-6
    printing = (moves.de > 0) & planar
    if not np.any(printing):
        raise GcodeRefused(
            "the G-code only extrudes in place, never while moving across the bed: "
            "there is nothing to print"
        )
    zs = np.round(moves.z[printing], 3)
    heights = np.unique(zs)
    xs = np.r_[moves.x0[printing], moves.x[printing]]
    ys = np.r_[moves.y0[printing], moves.y[printing]]
    lo = (xs.min(), ys.min(), zs.min())
    hi = (xs.max(), ys.max(), zs.max())
    all_lo = (moves.x.min(), moves.y.min(), moves.z.min())
    all_hi = (moves.x.max(), moves.y.max(), moves.z.max())
    stated = meta.stated_seconds
    if stated is not None and not (0.25 * seconds <= stated <= 4.0 * seconds):
        notes.append(
            f"the slicer's own estimate ({stated:.0f} s) is far from the motion model's "
            f"({seconds:.0f} s) and is ignored"
        )
        stated = None
    return Analysis(
        seconds=seconds,
        stated_seconds=stated,
        filament_mm=filament,
        filament_mm3=filament * math.pi * (diameter / 2) ** 2,
        layers=len(heights),
        layer_heights=[float(h) for h in np.diff(np.r_[0.0, heights])],
        bbox_min=tuple(float(v) for v in lo),  # type: ignore[arg-type]
        bbox_max=tuple(float(v) for v in hi),  # type: ignore[arg-type]
        travel_min=tuple(float(v) for v in all_lo),  # type: ignore[arg-type]
        travel_max=tuple(float(v) for v in all_hi),  # type: ignore[arg-type]
        moves=len(moves.x),
        slicer=meta.slicer or "unknown",
        nozzle_mm=meta.nozzle_mm,
        hotend_c=max(meta.hotend_temps) if meta.hotend_temps else None,
        bed_c=max(meta.bed_temps) if meta.bed_temps else None,
        notes=notes,
    )


def check_for_printer(
    analysis: Analysis,
    *,
    build_mm: tuple[float, float, float],
    nozzle_mm: float,
    material: str,
) -> list[str]:
    """Refuse a file that does not belong on this printer; return softer warnings.

    Raises PartTooLargeError when it prints or moves outside this printer's build volume, and
    GcodeRefused when it was sliced for another nozzle or material."""
    warnings: list[str] = []
    w, d, h = build_mm
    lo, hi = analysis.bbox_min, analysis.bbox_max
    if lo[0] < 0 or lo[1] < 0 or hi[0] > w or hi[1] > d or hi[2] > h:
        raise PartTooLargeError(
            f"the G-code prints outside the bed: it extrudes from X{lo[0]:.1f} Y{lo[1]:.1f} to "
            f"X{hi[0]:.1f} Y{hi[1]:.1f} up to Z{hi[2]:.1f}, but this printer's build volume is "
            f"{w:g} × {d:g} × {h:g} mm. It was sliced for a bigger printer."
        )
    tlo, thi = analysis.travel_min, analysis.travel_max
    m = BED_MARGIN_MM
    if tlo[0] < -m or tlo[1] < -m or thi[0] > w + m or thi[1] > d + m or thi[2] > h + m:
        raise PartTooLargeError(
            f"the G-code moves the head outside the bed (X{tlo[0]:.1f}..{thi[0]:.1f}, "
            f"Y{tlo[1]:.1f}..{thi[1]:.1f}, Z up to {thi[2]:.1f}) on a {w:g} × {d:g} × {h:g} mm "
            "printer: it could crash into the frame."
        )
    if analysis.nozzle_mm is None:
        warnings.append("the file does not say which nozzle it was sliced for")
    elif abs(analysis.nozzle_mm - nozzle_mm) > 0.01:
        raise GcodeRefused(
            f"the G-code was sliced for a {analysis.nozzle_mm:g} mm nozzle, but this printer "
            f"has a {nozzle_mm:g} mm nozzle: lines would be the wrong width. Slice it again "
            "for this printer."
        )
    span = MATERIAL_TEMPS.get(material.upper())
    if analysis.hotend_c is None:
        warnings.append("the file never sets a nozzle temperature")
    elif span is not None and not span[0] <= analysis.hotend_c <= span[1]:
        raise GcodeRefused(
            f"the G-code heats the nozzle to {analysis.hotend_c:.0f} °C, but {material} prints at "
            f"{span[0]:.0f}-{span[1]:.0f} °C: it was sliced for another material."
        )
    return warnings
