"""Solid skins: which part of each layer's infill area prints solid, and which sparse.

Solid is what lies within `top_layers` of a surface above or `bottom_layers` of one below
(wherever a neighbour layer has no infill area at that point, which also makes solid the
infill beside sloped walls: a vertical shell). Two of PrusaSlicer's rules follow:

- a top or bottom surface (the infill area that no outline covers above, or below) is grown
  by `SKIN_ANCHOR_MM` into the sparse area before it is carried through the skin's layers,
  so a narrow skin (the floor of an engraved letter, a 1 mm ledge) is anchored on the infill
  instead of hanging on two sparse lines;
- solid laid straight onto sparse infill is a bridge over it (`internal_bridges`): its lines
  cross the sparse lines below at the bridge flow, as PrusaSlicer's "bridge infill over
  sparse infill", instead of a flat bead that sags between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

from slicing.parallel import SERIAL, Workers
from slicing.settings import SliceSettings

EMPTY = shapely.Polygon()
GRID_MM = 1e-5  # slicing.layers rounds the outlines' points to it
SKIN_ANCHOR_MM = 3.0  # PrusaSlicer's EXTERNAL_INFILL_MARGIN
AREA_OF_SURFACE = 2.0  # line widths squared: a bare area smaller is no top or bottom surface


def solid_areas(
    regions: Sequence[shapely.Geometry],
    inners: Sequence[shapely.Geometry],
    settings: SliceSettings,
    workers: Workers = SERIAL,
) -> list[tuple[shapely.Geometry, shapely.Geometry]]:
    """Split each layer's infill area `inners[i]` into (solid, sparse); `regions[i]` is the
    layer's outline. `workers`' threads take slices of the layers."""
    count = len(regions)
    if settings.infill >= 0.999:
        return [(inner, EMPTY) for inner in inners]

    below, above = settings.bottom_layers, settings.top_layers
    out = [(inner, EMPTY) for inner in inners]  # near the bed and the top: all solid
    # layers with a whole window, each distinct window once (repeated layers hand in the
    # same objects, see plan_layers)
    first: dict[tuple[int, ...], int] = {}
    owner = list(range(count))  # the layer whose split each layer shares
    for i in range(below, count - above):
        key = tuple(id(inners[j]) for j in range(i - below, i + above + 1))
        owner[i] = first.setdefault(key, i)
    todo = [i for i in range(below, count - above) if owner[i] == i]
    if todo:
        # comparing infill areas (not outlines) also makes solid the infill next to sloped
        # walls, where the perimeters above or below do not cover it: a vertical shell.
        # `covered`: what every layer of the window holds (the layer itself included, which
        # changes neither difference nor intersection below)
        shapes, at = np.array(inners, dtype=object), np.array(todo)
        covered = window_intersections(shapes, below + above + 1, workers)[at - below]
        # a layer whose whole window repeats it (the same object) has no solid
        raw_solids = np.array([EMPTY] * len(at), dtype=object)
        moved = np.array([a is not b for a, b in zip(shapes[at], covered, strict=True)])
        if moved.any():
            raw_solids[moved] = workers.elementwise(_difference, shapes[at][moved], covered[moved])
        raw_sparses = covered  # within the layer's own area: the window holds it

        def split_of(r: range) -> list[tuple[shapely.Geometry, shapely.Geometry]]:
            return [_split(raw_solids[n], raw_sparses[n], settings) for n in r]

        pieces = workers.chunks(len(at), len(at))
        split = [pair for piece in workers.map(split_of, pieces) for pair in piece]
        solids = np.array([a for a, _ in split], dtype=object)
        sparses = np.array([b for _, b in split], dtype=object)
        # after the small-island rule, as PrusaSlicer: what the anchors leave of a layer's
        # sparse area stays sparse, however small
        _anchor_skins(solids, sparses, todo, regions, inners, settings)
        for n, i in enumerate(todo):
            out[i] = (solids[n], sparses[n])
    return [out[owner[i]] for i in range(count)]


def window_intersections(shapes: np.ndarray, size: int, workers: Workers = SERIAL) -> np.ndarray:
    """(n - size + 1,) object: the intersection of `shapes[s : s + size]` for every start s.

    A sliding window in three intersections per layer instead of `size - 1` (van Herk /
    Gil-Werman): within blocks of `size`, the running intersection from each block's start
    (`ahead`) and from its end (`behind`); a window spans at most two blocks, so it is one
    block's `behind` at its start and the next one's `ahead` at its end. Each step is one
    array operation over all blocks, and a neighbour that is the same object as the last one
    taken (a repeated layer) is skipped."""
    n = len(shapes)
    ahead, behind = shapes.copy(), shapes.copy()
    starts = np.arange(0, n, size)
    for t in range(1, size):
        i = starts + t
        i = i[i < n]
        fresh = np.array([a is not b for a, b in zip(shapes[i], shapes[i - 1], strict=True)])
        ahead[i] = ahead[i - 1]
        if fresh.any():
            ahead[i[fresh]] = workers.elementwise(
                _intersection, ahead[i[fresh] - 1], shapes[i[fresh]]
            )
        j = starts + size - 1 - t
        j = j[j + 1 < n]
        fresh = np.array([a is not b for a, b in zip(shapes[j], shapes[j + 1], strict=True)])
        behind[j] = behind[j + 1]
        if fresh.any():
            behind[j[fresh]] = workers.elementwise(
                _intersection, behind[j[fresh] + 1], shapes[j[fresh]]
            )
    first = np.arange(n - size + 1)
    last = first + size - 1
    out = ahead[last].copy()  # a window starting a block is that block's whole run
    split = first % size != 0
    if split.any():
        pairs = [(a, b) for a, b in zip(behind[first[split]], ahead[last[split]], strict=True)]
        same = np.array([a is b for a, b in pairs])
        joined = np.array([a for a, _ in pairs], dtype=object)
        if (~same).any():
            joined[~same] = workers.elementwise(
                _intersection, behind[first[split]][~same], ahead[last[split]][~same]
            )
        out[split] = joined
    return out


def _anchor_skins(
    solids: np.ndarray,
    sparses: np.ndarray,
    todo: list[int],
    regions: Sequence[shapely.Geometry],
    inners: Sequence[shapely.Geometry],
    settings: SliceSettings,
) -> None:
    """Grow, in place, the solid of layers `todo` by the top and bottom surfaces of their
    skin windows grown by `SKIN_ANCHOR_MM`, taken from the sparse area."""
    count, w = len(regions), settings.line_width_mm
    # layer i's top: its infill area the outline above leaves bare (a step that lies under
    # the perimeters is theirs, as in PrusaSlicer); a layer repeating its neighbour (the
    # same outline object) has none
    tops = [i for i in range(count - 1) if regions[i + 1] is not regions[i]]
    bottoms = [i for i in range(1, count) if regions[i - 1] is not regions[i]]
    shapes = np.array(inners, dtype=object)
    outlines = np.array(regions, dtype=object)
    grown: dict[tuple[str, int], shapely.Geometry] = {}
    for side, layers, step in (("top", tops, 1), ("bottom", bottoms, -1)):
        if not layers:
            continue
        at = np.array(layers)
        bare = overlay(shapely.difference, shapes[at], outlines[at + step])
        # under two lines' squares: the outlines' last digits, or a corner's crumb, not a
        # surface worth SKIN_ANCHOR_MM of solid around it on every skin layer
        real = ~shapely.is_empty(bare) & (shapely.area(bare) > AREA_OF_SURFACE * w * w)
        if not real.any():
            continue
        wide = shapely.buffer(bare[real], SKIN_ANCHOR_MM, quad_segs=3)
        for i, geometry in zip(at[real].tolist(), wide, strict=True):
            grown[(side, i)] = geometry
    if not grown:
        return
    below, above = settings.bottom_layers, settings.top_layers
    for n, j in enumerate(todo):
        # a top at layer i is solid in layers i - above + 1 .. i; a bottom in i .. i + below - 1
        near = [grown[("top", i)] for i in range(j, j + above) if ("top", i) in grown]
        near += [
            grown[("bottom", i)] for i in range(j - below + 1, j + 1) if ("bottom", i) in grown
        ]
        if not near or sparses[n].is_empty:
            continue
        reach = shapely.union_all(near)
        taken = overlay(shapely.intersection, sparses[n], reach)
        if taken.is_empty:
            continue
        solids[n] = overlay(shapely.union, solids[n], taken)
        sparses[n] = overlay(shapely.difference, sparses[n], reach)


def _split(
    solid: shapely.Geometry, sparse: shapely.Geometry, settings: SliceSettings
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """(solid, sparse) of one layer from the raw difference and intersection: sparse islands
    too small to hold infill are made solid (PrusaSlicer's solid_infill_below_area), and
    crumbs of solid smaller than a line are dropped."""
    sparse_parts = polygon_parts(sparse)
    small = shapely.area(sparse_parts) < settings.solid_below_mm2
    solid_parts = polygon_parts(solid)
    crumbs = shapely.area(solid_parts) <= settings.line_width_mm**2
    if not small.any() and not crumbs.any() and _polygonal(solid) and _polygonal(sparse):
        return solid, sparse  # the usual layer: nothing to move, no union to make
    kept = np.concatenate([solid_parts[~crumbs], sparse_parts[small]])
    solid_area = shapely.union_all(kept) if len(kept) else EMPTY
    sparse_area = shapely.multipolygons(sparse_parts[~small]) if (~small).any() else EMPTY
    return solid_area, sparse_area


def internal_bridges(
    solid: shapely.Geometry, sparse_below: shapely.Geometry, settings: SliceSettings
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Split a layer's solid infill into (over sparse, rest): what lies on the sparse infill
    of the layer below, less strips under two lines wide (a vertical shell's sliver beside
    a sloped wall rests on the perimeters as much as on the infill)."""
    if solid.is_empty or sparse_below.is_empty:
        return EMPTY, solid
    w = settings.line_width_mm
    # what survives the opening below lies in the solid and the sparse area each eroded by
    # a line: where either erosion is gone (the solid of most layers is strips under two
    # lines wide) or the two do not meet, there is no bridge, and the overlay of the two
    # arc-rich areas (a third of a millisecond each on the calibration cube) is not made
    solid_core = shapely.buffer(solid, -w, quad_segs=2)
    if solid_core.is_empty or not shapely.intersects(
        solid_core, shapely.buffer(sparse_below, -w, quad_segs=2)
    ):
        return EMPTY, solid
    over = overlay(shapely.intersection, solid, sparse_below)
    core = shapely.buffer(over, -w, quad_segs=2)
    if core.is_empty:
        return EMPTY, solid
    over = shapely.buffer(core, w, quad_segs=2)
    over = overlay(shapely.intersection, over, solid)
    parts = polygon_parts(over)
    parts = parts[shapely.area(parts) > 4 * w * w]
    if len(parts) == 0:
        return EMPTY, solid
    bridge = shapely.union_all(parts)
    return bridge, overlay(shapely.difference, solid, bridge)


def overlay(
    op: Callable[..., Any], a: shapely.Geometry | np.ndarray, b: shapely.Geometry | np.ndarray
) -> Any:
    """`op(a, b)` (a shapely overlay, element-wise on arrays); where GEOS's floating-point
    overlay gives up ("Unable to determine overlay result geometry dimension", seen on
    3DBenchy's internal bridges), again on the 10 nm grid the outlines are rounded to, whose
    snap-rounding noder does not fail."""
    try:
        return op(a, b)
    except shapely.errors.GEOSException:
        return op(a, b, grid_size=GRID_MM)


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(overlay(shapely.difference, a, b))


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(overlay(shapely.intersection, a, b))


def _polygonal(geometry: shapely.Geometry) -> bool:
    return bool(shapely.get_type_id(geometry) in (3, 6))


def polygon_parts(geometry: shapely.Geometry) -> np.ndarray:
    """The non-empty polygons of `geometry` (any collection), (n,) object."""
    parts = shapely.get_parts(geometry)
    return parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
