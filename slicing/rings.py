"""Layer outlines from their segments, by chaining: the fast path in front of GEOS build_area.

A closed mesh cut by a plane gives segments that meet end to start: two triangles sharing an
edge compute its crossing point bit for bit (slicing.layers orders each edge's vertices), so
every end point of a clean layer is the start of exactly one other segment. Following those
links in numpy (pointer doubling, for all layers at once) gives each layer's rings in order,
and even-odd nesting (a ring inside an odd number of others is a hole) gives its polygons:
what `build_area` computes, without noding and polygonising linework it did not need to
node (a third of 3DBenchy's slicing time).

A layer whose segments do not chain (open ends, a point where more than two segments meet)
or whose rings cross (overlapping shells: an invalid result) is left to the caller's
general path (build_area, then filling by winding number).
"""

from __future__ import annotations

import numpy as np
import shapely

QUANTUM = 1e5  # the segments are rounded to 10 nm: integer keys are exact
_COORD_BITS, _PLANE_BITS = 25, 13  # 335 mm at 10 nm, 8,192 layers: one int64 key


def chain_layers(segments: np.ndarray, plane_idx: np.ndarray, count: int) -> list[object]:
    """Per plane (`count` of them): its filled outline (Polygon or MultiPolygon, valid), or
    None where chaining cannot decide (the caller's general path does).

    segments: (s, 2, 2) float, rounded to 1/QUANTUM mm; plane_idx: (s,) int, sorted."""
    out: list[object] = [None] * count
    s = len(segments)
    if s == 0 or count >= 1 << _PLANE_BITS:
        return out
    q = np.round(segments * QUANTUM).astype(np.int64)
    q -= q.reshape(-1, 2).min(axis=0)
    if int(q.max()) >= 1 << _COORD_BITS:
        return out
    plane = plane_idx.astype(np.int64)[:, None]
    key = (plane << (2 * _COORD_BITS)) | (q[:, :, 0] << _COORD_BITS) | q[:, :, 1]  # (s, 2)
    _, inverse = np.unique(key.ravel(), return_inverse=True)
    start_id, end_id = inverse.reshape(s, 2).T
    # a segment shorter than the rounding (a plane a hair from a vertex) links nothing
    real = start_id != end_id
    if not real.all():
        segments, plane_idx = segments[real], plane_idx[real]
        start_id, end_id, s = start_id[real], end_id[real], int(real.sum())
    n = int(inverse.max()) + 1
    # a clean layer: each point starts one segment and ends one
    clean_point = (np.bincount(start_id, minlength=n) == 1) & (
        np.bincount(end_id, minlength=n) == 1
    )
    seg_of_start = np.full(n, -1)
    seg_of_start[start_id] = np.arange(s)
    succ = seg_of_start[end_id]
    broken = ~clean_point[start_id] | ~clean_point[end_id]
    bad_plane = np.zeros(count, dtype=bool)
    bad_plane[plane_idx[broken]] = True
    good = ~bad_plane[plane_idx]
    index = np.arange(s)
    succ = np.where(good, succ, index)
    # each ring starts at its least point (least x, then y): a true corner, which the
    # outlines' simplification keeps (started mid-edge beside a corner, it may cut it)
    priority = np.empty(s, dtype=np.int64)
    priority[np.lexsort((segments[:, 0, 1], segments[:, 0, 0]))] = np.arange(s)
    head, rank = _rings(succ, priority)
    keep = np.flatnonzero(good)
    order = keep[np.lexsort((rank[keep], head[keep]))]
    ring = head[order]
    firsts = np.r_[0, np.flatnonzero(np.diff(ring)) + 1] if len(order) else np.zeros(0, int)
    sizes = np.diff(np.r_[firsts, len(order)])
    ring_no = np.repeat(np.arange(len(firsts)), sizes)
    solid_ring = sizes >= 3  # fewer points enclose nothing
    use = solid_ring[ring_no]
    if not use.any():
        for k in np.flatnonzero(~bad_plane).tolist():
            out[k] = shapely.Polygon()
        return out
    _, ring_no = np.unique(ring_no[use], return_inverse=True)
    coords = segments[order[use], 0]
    rings = shapely.linearrings(coords, indices=ring_no)
    ring_plane = plane_idx[order[firsts[solid_ring]]]
    layers = _even_odd(rings, ring_plane, coords, ring_no, count)
    valid = shapely.is_valid(layers)
    for k in np.flatnonzero(~bad_plane).tolist():
        out[k] = layers[k] if valid[k] else None
    return out


def _rings(succ: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a permutation `succ` (s,) made of cycles and distinct `priority` (s,) int: each
    element's cycle head (the element of least priority on it) and its rank along the cycle
    from the head, by pointer doubling."""
    least = priority.copy()
    jump = succ.copy()
    while True:
        # after k rounds: the least priority among the next 2^k; unchanged means it is the
        # cycle's least (the windows along the cycle cover it)
        nearer = np.minimum(least, least[jump])
        jump = jump[jump]
        if np.array_equal(nearer, least):
            break
        least = nearer
    index = np.arange(len(succ))
    of_priority = np.empty_like(index)
    of_priority[priority] = index
    head = of_priority[least]
    # cut each cycle before its head, then count the steps to the cut (list ranking)
    nxt = np.where(succ == head, index, succ)
    steps = (nxt != index).astype(np.int64)
    while True:
        further = nxt[nxt]
        if np.array_equal(further, nxt):
            break
        steps = steps + steps[nxt]
        nxt = further
    return head, -steps  # the head is furthest from the cut: it sorts first


def _even_odd(
    rings: np.ndarray, ring_plane: np.ndarray, coords: np.ndarray, ring_no: np.ndarray, count: int
) -> np.ndarray:
    """(count,) object: each plane's rings filled even-odd (nested by containment)."""
    r = len(rings)
    bounds = shapely.bounds(rings)  # (r, 4)
    first_point = coords[np.r_[0, np.flatnonzero(np.diff(ring_no)) + 1]]
    # every ordered pair of rings of one plane whose boxes nest
    by_plane = np.bincount(ring_plane, minlength=count)
    start = np.r_[0, np.cumsum(by_plane)[:-1]]
    per = by_plane[ring_plane]  # rings sharing each ring's plane
    a = np.repeat(np.arange(r), per)
    b = start[ring_plane][a] + (np.arange(len(a)) - np.repeat(np.cumsum(per) - per, per))
    nested = (a != b) & np.all(bounds[a, :2] <= bounds[b, :2], axis=1)
    nested &= np.all(bounds[a, 2:] >= bounds[b, 2:], axis=1)
    a, b = a[nested], b[nested]
    inside = shapely.contains_xy(shapely.polygons(rings)[a], first_point[b, 0], first_point[b, 1])
    a, b = a[inside], b[inside]
    depth = np.bincount(b, minlength=r)
    hole = depth % 2 == 1
    # a hole's shell: the ring around it one level up
    parent = np.arange(r)
    up = depth[a] == depth[b] - 1
    parent[b[up & hole[b]]] = a[up & hole[b]]
    shell_of = np.where(hole, parent, np.arange(r))
    order = np.lexsort((hole, shell_of))  # each shell, then its holes
    _, group = np.unique(shell_of[order], return_inverse=True)
    polygons = shapely.polygons(rings[order], indices=group)
    polygon_plane = ring_plane[order][np.r_[0, np.flatnonzero(np.diff(group)) + 1]]
    layers = np.full(count, shapely.Polygon(), dtype=object)
    present, compact = np.unique(polygon_plane, return_inverse=True)
    layers[present] = shapely.multipolygons(polygons, indices=compact)
    return layers
