"""An SVG of one layer of any G-code, toolpaths coloured by feature, for the operator.

Features come from the slicer's `;TYPE:` comments (PrusaSlicer, Cura and ours write them);
travel moves are drawn thin and grey. The drawing is in bed millimetres, Y pointing up.

Reading a G-code is the cost of a preview (a second for every few MB), and an operator pages
through many layers of one file: the first preview of a file writes its moves, reduced to what
a drawing needs, into an index beside it (`<file>.layers.npz`, float32), and every later
preview of any layer of that file reads the index instead (milliseconds). The index is
rebuilt when the file changes (its size and modification time are in the index).
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from slicing.cache import write_atomically
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
    "gap fill": "#ffffff",
    "support material": "#5fa8a8",
    "support material interface": "#2f7f7f",
    "skirt": "#2ca02c",
    "skirt/brim": "#2ca02c",
    "wall-outer": "#e8762b",
    "wall-inner": "#f2b134",
    "skin": "#a33f9c",
    "fill": "#b03a2e",
}
OTHER = "#7f7f7f"
INDEX_FORMAT = 1


@dataclass(frozen=True)
class LayerIndex:
    """The planar moves of a G-code, as much as a drawing needs (float32 millimetres)."""

    x0: np.ndarray
    y0: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray  # rounded to the micrometre: a layer is one value
    extruding: np.ndarray  # bool
    feature_idx: np.ndarray  # int16 into `features`
    features: list[str]
    heights: np.ndarray  # the layers' Z, ascending

    @classmethod
    def from_moves(cls, moves: Moves) -> LayerIndex:
        planar = np.hypot(moves.x - moves.x0, moves.y - moves.y0) > 0
        z = np.round(moves.z[planar], 3).astype(np.float32)
        extruding = moves.de[planar] > 0
        return cls(
            x0=moves.x0[planar].astype(np.float32),
            y0=moves.y0[planar].astype(np.float32),
            x=moves.x[planar].astype(np.float32),
            y=moves.y[planar].astype(np.float32),
            z=z,
            extruding=extruding,
            feature_idx=moves.feature_idx[planar].astype(np.int16),
            features=list(moves.features),
            heights=np.unique(z[extruding]),
        )


def layer_index(path: Path) -> LayerIndex:
    """The index of the G-code at `path`: read from beside it, or made (and kept) now."""
    stat = path.stat()
    stamp = f"{INDEX_FORMAT}:{stat.st_size}:{stat.st_mtime_ns}"
    kept = path.with_name(path.name + ".layers.npz")
    try:
        with np.load(kept, allow_pickle=False) as data:
            if str(data["stamp"]) == stamp:
                arrays = {name: data[name] for name in ARRAYS}
                features = json.loads(str(data["features"]))
                return LayerIndex(**arrays, features=features)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # none yet, an older format or a torn write: make it again
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        moves, _ = parse_gcode(handle)
    index = LayerIndex.from_moves(moves)
    buffer = io.BytesIO()
    arrays = {name: getattr(index, name) for name in ARRAYS}
    np.savez(buffer, stamp=stamp, features=json.dumps(index.features), **arrays)
    with contextlib.suppress(OSError):  # a read-only folder: a preview, only not kept
        write_atomically(kept, buffer.getvalue())
    return index


ARRAYS = ("x0", "y0", "x", "y", "z", "extruding", "feature_idx", "heights")


def layer_svg(
    index: LayerIndex, layer: int, *, bed_mm: tuple[float, float] = DEFAULT_BUILD_MM[:2]
) -> str:
    """SVG text of layer `layer` (0-based; negative counts from the top). IndexError past
    the last layer; GcodeRefused when the G-code prints nothing."""
    heights = index.heights
    if len(heights) == 0:
        raise GcodeRefused("the G-code prints nothing")
    z = heights[layer]
    on_layer = index.z == z
    width, depth = bed_mm
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {depth:g}" '
        f'width="{width * 3:g}" height="{depth * 3:g}">',
        f"<title>layer {int(np.flatnonzero(heights == z)[0]) + 1} of {len(heights)}, "
        f"Z {float(z):g} mm</title>",
        f'<rect width="{width:g}" height="{depth:g}" fill="#fafafa" stroke="#ccc" stroke-width="0.5"/>',
        f'<g transform="translate(0 {depth:g}) scale(1 -1)" fill="none" stroke-linecap="round">',
    ]
    parts.append(_path(index, on_layer & ~index.extruding, "#bbbbbb", 0.1))
    printing = on_layer & index.extruding
    for number, name in enumerate(index.features):
        selected = printing & (index.feature_idx == number)
        if selected.any():
            colour = COLOURS.get(name.lower(), OTHER)
            parts.append(_path(index, selected, colour, 0.4, escape(name)))
    parts += ["</g>", "</svg>"]
    return "\n".join(p for p in parts if p)


def _path(index: LayerIndex, mask: np.ndarray, colour: str, width: float, label: str = "") -> str:
    if not mask.any():
        return ""
    segments = np.stack([index.x0[mask], index.y0[mask], index.x[mask], index.y[mask]], axis=1)
    d = " ".join(f"M{a:.2f} {b:.2f}L{c:.2f} {e:.2f}" for a, b, c, e in segments.tolist())
    title = f"<title>{label}</title>" if label else ""
    return f'<path stroke="{colour}" stroke-width="{width}" d="{d}">{title}</path>'


def gcode_layer_svg(
    path: Path, layer: int, *, bed_mm: tuple[float, float] = DEFAULT_BUILD_MM[:2]
) -> str:
    return layer_svg(layer_index(path), layer, bed_mm=bed_mm)
