"""Overhang perimeters: the stretches of a loop that hang over air are printed slower.

A loop's bead rests on the layer below where its centre line lies within the layer below
grown by half a nozzle (PrusaSlicer's rule, "overhangs"): past that, the whole nozzle is over
air and the bead sags unless it is laid slowly, as a round thread (the bridge flow) the fan
can set. Each such stretch becomes its own path, `Kind.OVERHANG` (PrusaSlicer's
`;TYPE:Overhang perimeter`), printed at the bridge speed; the loop is otherwise unchanged
(same points, same start), so no travel or retraction is added.

With 0.2 mm layers and 0.45 mm lines a straight wall leans out about 65° from the vertical
before its outer loop overhangs (`overhang_angle_deg`): a 60° slope prints as it did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely

from slicing.settings import SliceSettings
from slicing.toolpaths_base import Kind, Toolpath

LOOP_KINDS = (Kind.EXTERNAL, Kind.PERIMETER)


def overhang_angle_deg(settings: SliceSettings) -> float:
    """The lean from the vertical past which a straight wall's outer loop overhangs."""
    reach = settings.line_width_mm / 2 + settings.nozzle_mm / 2
    return math.degrees(math.atan(reach / settings.layer_height_mm))


def held_areas(belows: np.ndarray, settings: SliceSettings) -> np.ndarray:
    """(n,) object: where a bead rests on each outline of `belows` (grown by half a nozzle),
    prepared for point and line tests."""
    held = shapely.buffer(belows, settings.nozzle_mm / 2, quad_segs=3)
    shapely.prepare(held)
    return held


def resting_layers(
    loops: Sequence[Sequence[Toolpath]], belows: Sequence[shapely.Geometry], settings: SliceSettings
) -> np.ndarray:
    """(n,) bool: whether every loop of `loops[k]` (a layer's perimeters, in any order or
    seam) rests everywhere on `belows[k]`: the test `split_overhangs` starts with, for many
    layers in one call, so the layers that pass (nearly all) need no call of their own."""
    n = len(loops)
    if n == 0:
        return np.zeros(0, dtype=bool)
    distinct = {id(b): b for b in belows}
    slot = {key: k for k, key in enumerate(distinct)}
    held = held_areas(np.array(list(distinct.values()), dtype=object), settings)
    rings = [(k, p.points) for k, paths in enumerate(loops) for p in paths if p.kind in LOOP_KINDS]
    ok = np.ones(n, dtype=bool)
    if not rings:
        return ok
    coords = np.concatenate([points for _, points in rings])
    owner = np.repeat(np.arange(len(rings)), [len(points) for _, points in rings])
    layer = np.array([k for k, _ in rings])
    on = held[np.array([slot[id(belows[k])] for k in layer.tolist()])]
    resting = shapely.covered_by(shapely.linestrings(coords, indices=owner), on)
    np.logical_and.at(ok, layer, resting)
    return ok


def split_overhangs(
    paths: list[Toolpath], below: shapely.Geometry, settings: SliceSettings
) -> list[Toolpath]:
    """`paths` (one layer, in print order) with each loop cut into held and overhanging
    stretches where its centre line leaves `below` (the layer underneath's outline) grown by
    half a nozzle. Loops that rest on it everywhere, the usual case, are returned as they are,
    after one vectorised test per layer (`resting_layers` does it for many layers at once)."""
    loops = [k for k, p in enumerate(paths) if p.kind in LOOP_KINDS]
    if not loops:
        return paths
    held = held_areas(np.array([below], dtype=object), settings)[0]
    # every loop's line in one call (one shapely call per loop cost more than the test)
    coords = np.concatenate([paths[k].points for k in loops])
    owner = np.repeat(np.arange(len(loops)), [len(paths[k].points) for k in loops])
    resting = shapely.covered_by(shapely.linestrings(coords, indices=owner), held)
    if resting.all():
        return paths
    hanging = {k for k, rests in zip(loops, resting.tolist(), strict=True) if not rests}
    edge = shapely.boundary(held)
    out: list[Toolpath] = []
    for k, path in enumerate(paths):
        if k in hanging:
            out += _cut(path, held, edge, min_mm=settings.line_width_mm)
        else:
            out.append(path)
    return out


def _cut(
    path: Toolpath, held: shapely.Geometry, edge: shapely.Geometry, *, min_mm: float
) -> list[Toolpath]:
    """`path` split where it crosses `edge`; each stretch whose middle is off `held` becomes
    an overhang, unless it is shorter than `min_mm` (a corner clipped, not a ledge)."""
    points = path.points
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))]
    line = shapely.linestrings(points)
    crossings = shapely.get_coordinates(shapely.intersection(line, edge))
    at = shapely.line_locate_point(line, shapely.points(crossings)) if len(crossings) else []
    stops = np.unique(np.r_[along, at])
    xy = np.column_stack(
        [np.interp(stops, along, points[:, 0]), np.interp(stops, along, points[:, 1])]
    )
    middle = (xy[:-1] + xy[1:]) / 2
    over = ~shapely.contains_xy(held, middle[:, 0], middle[:, 1])
    if path.closed and over[0] and not over.all():
        # the seam fell on the stretch over air: start the loop where the nearest held
        # stretch begins instead, so no loop starts (or ends) with its nozzle over air
        begins = np.flatnonzero(~over[1:] & over[:-1]) + 1
        k = int(begins[np.argmin(np.hypot(*(xy[begins] - xy[0]).T))])
        xy = np.vstack([xy[k:], xy[1 : k + 1]])
        stops = np.r_[stops[k:] - stops[k], stops[-1] - stops[k] + stops[1 : k + 1]]
        over = np.r_[over[k:], over[:k]]
    # runs of segments on the same side: run r covers segments starts[r] .. starts[r + 1] - 1
    starts = np.r_[0, np.flatnonzero(np.diff(over)) + 1, len(over)]
    lengths = stops[starts[1:]] - stops[starts[:-1]]
    pieces: list[Toolpath] = []
    for r in range(len(starts) - 1):
        a, b = int(starts[r]), int(starts[r + 1])
        kind = Kind.OVERHANG if over[a] and lengths[r] >= min_mm else path.kind
        if pieces and pieces[-1].kind == kind:  # a clipped corner joins its neighbours
            joined = np.vstack([pieces[-1].points, xy[a + 1 : b + 1]])
            pieces[-1] = Toolpath(kind, joined, closed=False)
        else:
            pieces.append(Toolpath(kind, xy[a : b + 1], closed=False))
    if len(pieces) == 1 and pieces[0].kind == path.kind:
        return [path]
    return pieces
