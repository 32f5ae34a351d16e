"""Plate packing: how many copies of a part fit on one bed, and where they go.

Copies are laid out on a grid of their footprints (axis-aligned bounding boxes) with a safe gap
between them and from the bed edge; the grid is tried with the part as oriented and turned by
90°, and the layout with more copies wins. Boxes waste some space on round parts, but every
layout is trivially collision-free, which matters more on a farm than the last copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

SPACING_MM = 6.0  # between copies: room for the nozzle and for pulling parts off the bed
EDGE_MM = 5.0  # from the bed edge: clips, prime line and skirt


@dataclass(frozen=True)
class Layout:
    copies: int
    turned: bool  # whether each copy is turned 90° about Z
    centres: list[tuple[float, float]]  # XY centre of each copy's footprint


def _grid(
    size: tuple[float, float], bed: tuple[float, float], spacing: float, edge: float
) -> tuple[int, int]:
    usable = (bed[0] - 2 * edge, bed[1] - 2 * edge)
    if size[0] > usable[0] or size[1] > usable[1]:
        return (0, 0)
    cols = int((usable[0] + spacing) // (size[0] + spacing))
    rows = int((usable[1] + spacing) // (size[1] + spacing))
    return (cols, rows)


def pack(
    footprint: tuple[float, float],
    bed: tuple[float, float],
    *,
    wanted: int | None = None,
    spacing: float = SPACING_MM,
    edge: float = EDGE_MM,
) -> Layout:
    """Place up to `wanted` copies (default: as many as fit) of a `footprint` (w, d) in mm."""
    options = []
    for turned in (False, True):
        size = (footprint[1], footprint[0]) if turned else footprint
        cols, rows = _grid(size, bed, spacing, edge)
        options.append((cols * rows, turned, size, cols, rows))
    count, turned, size, cols, rows = max(options, key=lambda o: o[0])
    if count == 0:
        return Layout(0, False, [])
    n = count if wanted is None else min(count, max(wanted, 1))
    # fill rows first, then centre the used block on the bed
    used_cols = min(cols, n)
    used_rows = -(-n // used_cols)
    block = (
        used_cols * size[0] + (used_cols - 1) * spacing,
        used_rows * size[1] + (used_rows - 1) * spacing,
    )
    x0 = (bed[0] - block[0]) / 2 + size[0] / 2
    y0 = (bed[1] - block[1]) / 2 + size[1] / 2
    centres = [
        (x0 + (i % used_cols) * (size[0] + spacing), y0 + (i // used_cols) * (size[1] + spacing))
        for i in range(n)
    ]
    return Layout(n, turned, centres)


def build_plate(mesh: trimesh.Trimesh, layout: Layout) -> trimesh.Trimesh:
    """One mesh holding every copy of `mesh` (resting on z=0) at the layout's places."""
    part = mesh.copy()
    if layout.turned:
        part.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (0, 0, 1)))
    lo, hi = part.bounds
    centre = (lo[:2] + hi[:2]) / 2
    copies = []
    for cx, cy in layout.centres:
        copy = part.copy()
        copy.apply_translation((cx - centre[0], cy - centre[1], -lo[2]))
        copies.append(copy)
    plate = trimesh.util.concatenate(copies)
    assert isinstance(plate, trimesh.Trimesh)
    return plate
