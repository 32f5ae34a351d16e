"""Rectilinear infill: scan lines across an area, joined into zig-zag chains.

The area is turned so the lines run along X; every polygon edge is crossed with every scan
line it spans in one numpy pass (the classic scan-line fill), and crossings are paired left to
right. This replaces one GEOS overlay per scan line, which dominated slicing time on large
layers. Consecutive lines are then chained, end to start, by a short extruded connector along
the boundary when the connector stays within a line width of the area (as PrusaSlicer joins
its infill), so a region prints as a few long zig-zags instead of hundreds of separate lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from slicing.toolpaths_base import Kind, Toolpath

CHAIN_GAP = 3.0  # a next line starting within this many spacings of the last one's end joins it


def scan_pieces(
    area: shapely.Geometry, spacing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal lines `spacing` apart (on a grid fixed to y = 0) clipped to a valid `area`.

    Returns scan index (m,) int, y (m,), x_start (m,) and x_end (m,) float, sorted by scan
    index then x.
    """
    _, k, y, xa, xb = _scan(np.array([area], dtype=object), spacing)
    return k, y, xa, xb


def _scan(
    areas: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`scan_pieces` of every valid area in `areas` (g,) at once: returns the area index
    (m,) int of each piece too, sorted by area, scan index, then x."""
    parts, owner = shapely.get_parts(areas, return_index=True)
    polygon = shapely.get_type_id(parts) == 3
    parts, owner = parts[polygon], owner[polygon]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]  # consecutive vertices of one ring make an edge
    p0, p1 = coords[:-1][same], coords[1:][same]
    edge_area = owner[ring_part[ring[:-1][same]]]
    lo = np.minimum(p0[:, 1], p1[:, 1])
    hi = np.maximum(p0[:, 1], p1[:, 1])
    offset = spacing / 2
    # scan k sits at y = k * spacing + offset; an edge spans the scans with lo <= y < hi, so
    # a vertex on a scan line is counted once for a pass-through and twice or never at a tip
    k0 = np.ceil((lo - offset) / spacing).astype(np.int64)
    k1 = np.ceil((hi - offset) / spacing).astype(np.int64)
    counts = np.maximum(k1 - k0, 0)
    if counts.sum() == 0:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty
    edge = np.repeat(np.arange(len(p0)), counts)
    k = np.repeat(k0, counts) + (
        np.arange(len(edge)) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    g = edge_area[edge]
    y = k * spacing + offset
    a, b = p0[edge], p1[edge]
    x = a[:, 0] + (y - a[:, 1]) / (b[:, 1] - a[:, 1]) * (b[:, 0] - a[:, 0])
    order = np.lexsort((x, k, g))
    g, k, x, y = g[order], k[order], x[order], y[order]
    # pair crossings left to right within each scan line (even-odd inside a valid area)
    first_of_scan = np.r_[True, (k[1:] != k[:-1]) | (g[1:] != g[:-1])]
    start_index = np.maximum.accumulate(np.where(first_of_scan, np.arange(len(k)), 0))
    rank = np.arange(len(k)) - start_index
    left = np.flatnonzero(rank % 2 == 0)
    left = left[left + 1 < len(k)]
    left = left[(k[left + 1] == k[left]) & (g[left + 1] == g[left])]
    xa, xb = x[left], x[left + 1]
    keep = xb - xa > 1e-3
    return g[left][keep], k[left][keep], y[left][keep], xa[keep], xb[keep]


def _next_pieces(
    g: np.ndarray, scan: np.ndarray, starts: np.ndarray, ends: np.ndarray, reach: float
) -> np.ndarray:
    """(m,) int: the piece each piece's zig-zag goes on to (-1: none), on the next scan line
    of the same area, starting nearest its end and within `reach`. Where two pieces would go
    on to the same one, the nearer gets it. Pieces are sorted by area, scan, then x."""
    m = len(scan)
    following = np.full(m, -1)
    if m < 2:
        return following
    new_group = np.r_[True, (scan[1:] != scan[:-1]) | (g[1:] != g[:-1])]
    group = np.cumsum(new_group) - 1  # (area, scan) rank of each piece
    first = np.flatnonzero(new_group)  # first piece of each group
    last = np.r_[first[1:], m] - 1
    # the group after a piece's own holds the next scan line of its area, if any
    target = group + 1
    has = target < len(first)
    nxt_first = np.where(has, first[np.minimum(target, len(first) - 1)], 0)
    has &= (g[nxt_first] == g) & (scan[nxt_first] == scan + 1)
    # starts sorted within each group: search them all at once, offset group by group
    span = 1e4  # more than any x on a bed, so groups never interleave
    key = group * span + (starts[:, 0] + span / 2)
    probe = np.minimum(target, len(first) - 1) * span + (ends[:, 0] + span / 2)
    pos = np.searchsorted(key, probe)
    lo_c = np.clip(pos - 1, nxt_first, last[np.minimum(target, len(first) - 1)])
    hi_c = np.clip(pos, nxt_first, last[np.minimum(target, len(first) - 1)])
    best = np.full(m, -1)
    best_d = np.full(m, reach * reach)
    for cand in (lo_c, hi_c):
        d = ((starts[cand] - ends) ** 2).sum(axis=1)
        better = has & (d < best_d)
        best = np.where(better, cand, best)
        best_d = np.where(better, d, best_d)
    chosen = np.flatnonzero(best >= 0)
    if len(chosen) == 0:  # no piece has a next one in reach (a lone pair of short lines)
        return following
    # one predecessor per piece: the nearest of those that chose it
    order = np.lexsort((best_d[chosen], best[chosen]))
    chosen = chosen[order]
    winner = np.r_[True, best[chosen][1:] != best[chosen][:-1]]
    chosen = chosen[winner]
    following[chosen] = best[chosen]
    return following


def fill_lines(
    area: shapely.Geometry, spacing: float, angle_deg: float, kind: Kind, *, width: float = 0.45
) -> list[Toolpath]:
    """Rectilinear lines `spacing` apart at `angle_deg`, clipped to `area`, as zig-zag chains.

    The lines sit on a grid fixed to the bed origin, so sparse infill stacks from layer to layer.
    """
    return fill_many([area], spacing, [angle_deg], kind, width=width)[0]


def fill_many(
    areas: Sequence[shapely.Geometry],
    spacing: float,
    angles_deg: Sequence[float],
    kind: Kind,
    *,
    width: float = 0.45,
) -> list[list[Toolpath]]:
    """`fill_lines` of each area at its own angle, for many areas (every layer's) at once:
    one scan, one chaining and one connector test over all of them, so a layer costs a few
    array operations instead of dozens of small ones."""
    out: list[list[Toolpath]] = [[] for _ in areas]
    live = [i for i, a in enumerate(areas) if not a.is_empty]
    if not live:
        return out
    angle = np.radians(np.asarray([angles_deg[i] for i in live], dtype=float))
    cos, sin = np.cos(angle), np.sin(angle)
    shapes = np.array([areas[i] for i in live], dtype=object)
    # bed -> scan frame, each area by its own angle (rotate by -angle): transform hands the
    # function every coordinate of the array in get_coordinates' order
    owner = shapely.get_coordinates(shapes, return_index=True)[1]
    c, s_ = cos[owner], sin[owner]
    turned = shapely.transform(
        shapes, lambda p: np.column_stack([p[:, 0] * c + p[:, 1] * s_, p[:, 1] * c - p[:, 0] * s_])
    )
    invalid = ~shapely.is_valid(turned)
    if invalid.any():
        # rotating a hair-thin spike can make it cross itself, and an invalid polygon's
        # crossings no longer pair up into inside spans (seen on the scanned bunny)
        turned[invalid] = shapely.make_valid(turned[invalid])
    g, scan, y, xa, xb = _scan(turned, spacing)
    if len(scan) == 0:
        return out
    odd = scan % 2 == 1
    # zig-zag: odd scan lines are walked right to left
    sx, ex = np.where(odd, xb, xa), np.where(odd, xa, xb)
    starts = np.stack([sx, y], axis=1)
    ends = np.stack([ex, y], axis=1)
    following = _next_pieces(g, scan, starts, ends, CHAIN_GAP * spacing)
    a_idx = np.flatnonzero(following >= 0)
    b_idx = following[a_idx]
    # a connector must stay inside the area (give or take a line width), not cut a hole;
    # sampled at quarter points on the prepared areas: an exact covered_by per connector
    # cost more than the rest of the infill put together
    margin = shapely.buffer(turned, width, quad_segs=3)
    shapely.prepare(margin)
    inside = np.ones(len(a_idx), dtype=bool)
    for t in (0.25, 0.5, 0.75):
        probe = ends[a_idx] + t * (starts[b_idx] - ends[a_idx])
        inside &= shapely.contains_xy(margin[g[a_idx]], probe[:, 0], probe[:, 1])
    # A connector lies on the boundary, over the line ends that already reach it: pull both
    # ends back by what it covers of them. At 100 % the line ends cover the whole strip the
    # connector lies on, so each end gives up half its length and the area's volume is laid
    # exactly; lines `spacing` apart cover only `width / spacing` of that strip, and pulling
    # sparse lines back by half the connector left them short of the walls, unanchored
    # (20 % less sparse infill on the calibration cube than PrusaSlicer's).
    a_ok, b_ok = a_idx[inside], b_idx[inside]
    length = np.hypot(*(starts[b_ok] - ends[a_ok]).T)
    covered = min(1.0, width / spacing)
    span = np.abs(ends[:, 0] - starts[:, 0])
    back_a = np.minimum(covered * length / 2, 0.4 * span[a_ok])
    back_b = np.minimum(covered * length / 2, 0.4 * span[b_ok])
    direction = np.where(odd, -1.0, 1.0)  # walking direction of each piece along X
    ends[a_ok, 0] -= direction[a_ok] * back_a
    starts[b_ok, 0] += direction[b_ok] * back_b
    # paths: a piece with no joined predecessor starts one; follow the joins (one scan up
    # each), found for all pieces at once by pointer doubling
    joined = np.full(len(scan), -1)
    joined[b_ok] = a_ok  # predecessor over a good connector
    head = np.where(joined >= 0, joined, np.arange(len(scan)))
    while True:
        jumped = head[head]
        if np.array_equal(jumped, head):
            break
        head = jumped
    order = np.lexsort((scan, head))  # heads in piece order, then up the zig-zag
    points = np.empty((2 * len(order), 2))
    points[0::2] = starts[order]
    points[1::2] = ends[order]
    who = g[order]
    pc, ps = np.repeat(cos[who], 2), np.repeat(sin[who], 2)
    bed = np.column_stack(
        [points[:, 0] * pc - points[:, 1] * ps, points[:, 0] * ps + points[:, 1] * pc]
    )
    cuts = np.flatnonzero(np.diff(head[order])) + 1
    for piece, chunk in zip(np.r_[0, cuts].tolist(), np.split(bed, 2 * cuts), strict=True):
        out[live[int(who[piece])]].append(Toolpath(kind, chunk, closed=False))
    return out
