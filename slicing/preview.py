"""An SVG of one layer of any G-code, toolpaths coloured by feature, for the operator.

Features come from the slicer's `;TYPE:` comments (PrusaSlicer, Cura and ours write them);
travel moves are drawn thin and grey. The drawing is in bed millimetres, Y pointing up.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from slicing.errors import GcodeRefused
from slicing.gcode_parse import Moves, parse_gcode
from slicing.profile import DEFAULT_BUILD_MM

COLOURS = {
    "external perimeter": "#e8762b",
    "perimeter": "#f2b134",
    "overhang perimeter": "#1f77b4",
    "solid infill": "#a33f9c",
    "top solid infill": "#d6304a",
    "bridge infill": "#4a90d9",
    "internal infill": "#b03a2e",
    "skirt": "#2ca02c",
    "skirt/brim": "#2ca02c",
    "wall-outer": "#e8762b",
    "wall-inner": "#f2b134",
    "skin": "#a33f9c",
    "fill": "#b03a2e",
}
OTHER = "#7f7f7f"


def _layer_heights(moves: Moves) -> np.ndarray:
    printing = (moves.de > 0) & (np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0)
    return np.unique(np.round(moves.z[printing], 3))


def layer_svg(
    moves: Moves, layer: int, *, bed_mm: tuple[float, float] = DEFAULT_BUILD_MM[:2]
) -> str:
    """SVG text of layer `layer` (0-based; negative counts from the top)."""
    heights = _layer_heights(moves)
    if len(heights) == 0:
        raise GcodeRefused("the G-code prints nothing")
    z = heights[layer]
    on_layer = np.round(moves.z, 3) == z
    planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0
    width, depth = bed_mm
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {depth:g}" '
        f'width="{width * 3:g}" height="{depth * 3:g}">',
        f"<title>layer {int(np.flatnonzero(heights == z)[0]) + 1} of {len(heights)}, "
        f"Z {z:g} mm</title>",
        f'<rect width="{width:g}" height="{depth:g}" fill="#fafafa" stroke="#ccc" stroke-width="0.5"/>',
        f'<g transform="translate(0 {depth:g}) scale(1 -1)" fill="none" stroke-linecap="round">',
    ]
    travel = on_layer & planar & (moves.de <= 0)
    parts.append(_path(moves, travel, "#bbbbbb", 0.1))
    for index, name in enumerate(moves.features):
        selected = on_layer & planar & (moves.de > 0) & (moves.feature_idx == index)
        if selected.any():
            colour = COLOURS.get(name.lower(), OTHER)
            parts.append(_path(moves, selected, colour, 0.4, escape(name)))
    parts += ["</g>", "</svg>"]
    return "\n".join(p for p in parts if p)


def _path(moves: Moves, mask: np.ndarray, colour: str, width: float, label: str = "") -> str:
    if not mask.any():
        return ""
    segments = np.stack([moves.x0[mask], moves.y0[mask], moves.x[mask], moves.y[mask]], axis=1)
    d = " ".join(f"M{a:.2f} {b:.2f}L{c:.2f} {e:.2f}" for a, b, c, e in segments.tolist())
    title = f"<title>{label}</title>" if label else ""
    return f'<path stroke="{colour}" stroke-width="{width}" d="{d}">{title}</path>'


def gcode_layer_svg(
    path: Path, layer: int, *, bed_mm: tuple[float, float] = DEFAULT_BUILD_MM[:2]
) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        moves, _ = parse_gcode(handle)
    return layer_svg(moves, layer, bed_mm=bed_mm)
