"""Layer outlines to toolpaths: perimeters, solid skins, bridges, sparse infill, brim, skirt.

Every operation is a shapely 2 array function over whole layers; the only Python loops are over
layers and perimeter counts, never over segments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from slicing.gapfill import gap_fill_paths, uncovered
from slicing.infill import fill_many, scan_pieces
from slicing.overhangs import resting_layers, split_overhangs
from slicing.parallel import SERIAL, Workers
from slicing.repeats import share_repeats
from slicing.settings import SliceSettings
from slicing.skins import internal_bridges, overlay, polygon_parts, solid_areas
from slicing.supports import SupportPlan, plan_supports
from slicing.toolpaths_base import Kind, Layer, Toolpath

EMPTY = shapely.Polygon()
FILL_BATCH = 64  # layers planned in one array operation (perimeters_many, fill_many)
# open lines, in the order an island prints them (after its loops)
OPEN_KINDS = (
    Kind.GAP_FILL, Kind.BRIDGE, Kind.SOLID, Kind.SPARSE, Kind.SUPPORT_INTERFACE, Kind.SUPPORT,
)  # fmt: skip


def _paths(geometry: shapely.Geometry, kind: Kind, closed: bool) -> list[Toolpath]:
    """Every line or ring in `geometry` as a Toolpath, in one coordinate extraction."""
    return _paths_many(np.array([geometry], dtype=object), kind, closed)[0]


def _paths_many(geometries: np.ndarray, kind: Kind, closed: bool) -> list[list[Toolpath]]:
    """`_paths` of each geometry of `geometries` (g,), all extracted at once."""
    parts, owner = shapely.get_parts(geometries, return_index=True)
    if closed:
        polygon = shapely.get_type_id(parts) == 3
        parts, ring_of = shapely.get_rings(parts[polygon], return_index=True)
        owner = owner[polygon][ring_of]
    solid = ~shapely.is_empty(parts)
    parts, owner = parts[solid], owner[solid]
    out: list[list[Toolpath]] = [[] for _ in range(len(geometries))]
    if len(parts) == 0:
        return out
    coords, index = shapely.get_coordinates(parts, return_index=True)
    splits = np.flatnonzero(np.diff(index)) + 1
    for c, g in zip(np.split(coords, splits), owner[index[np.r_[0, splits]]].tolist(), strict=True):
        if len(c) >= 2:
            out[g].append(Toolpath(kind, c, closed))
    return out


def perimeter_paths(
    region: shapely.Geometry, settings: SliceSettings, height: float
) -> tuple[list[Toolpath], shapely.Geometry]:
    """Perimeter loops of one layer, innermost first, then the gap fill of what they and the
    infill leave (slicing.gapfill), and the area left inside them for the infill."""
    return perimeters_many([region], settings, [height])[0]


def perimeters_many(
    regions: Sequence[shapely.Geometry], settings: SliceSettings, heights: Sequence[float]
) -> list[tuple[list[Toolpath], shapely.Geometry]]:
    """`perimeter_paths` of many layers: every offset is one array operation over all of
    them (GEOS does the same work, without a Python call per layer and offset)."""
    w, gap = settings.line_width_mm, settings.spacing()
    shapes = np.array(regions, dtype=object)
    loops: list[list[Toolpath]] = [[] for _ in regions]
    areas: list[np.ndarray] = []
    for k in reversed(range(settings.perimeters)):
        ring_area = shapely.buffer(shapes, -(w / 2 + k * gap), quad_segs=3)
        ring_area = shapely.simplify(ring_area, 0.0125)
        areas.insert(0, ring_area)
        kind = Kind.EXTERNAL if k == 0 else Kind.PERIMETER
        for n, paths in enumerate(_paths_many(ring_area, kind, closed=True)):
            loops[n] += paths
    inner = shapely.buffer(shapes, -(w / 2 + (settings.perimeters - 0.5) * gap), quad_segs=3)
    gaps = uncovered(shapes, areas, settings)
    for n in np.flatnonzero(~shapely.is_empty(gaps)).tolist():
        loops[n] += gap_fill_paths(gaps[n], settings, heights[n])
    return list(zip(loops, inner, strict=True))


def skirt_paths(first_region: shapely.Geometry, settings: SliceSettings) -> list[Toolpath]:
    """First-layer loops around the part: a skirt `skirt_distance_mm` beyond the brim, printed
    first to prime the nozzle, then the brim from its outer loop in to the part. Loops that
    would leave the bed are left out."""
    if first_region.is_empty:
        return []
    w, gap = settings.line_width_mm, settings.spacing()
    bed = shapely.box(0.0, 0.0, *settings.bed_mm)
    brim: list[Toolpath] = []
    count = int(np.ceil(settings.brim_mm / gap)) if settings.brim_mm > 0 else 0
    outline = first_region
    for k in range(count):
        ring = shapely.buffer(first_region, w / 2 + k * gap, quad_segs=4)
        if not shapely.contains(bed, ring):
            break
        brim += _paths(ring, Kind.BRIM, closed=True)
        outline = ring
    skirt: list[Toolpath] = []
    hull = shapely.convex_hull(outline)
    for k in range(settings.skirts):
        ring = shapely.buffer(hull, settings.skirt_distance_mm + k * w, quad_segs=4)
        if not shapely.contains(bed, ring):
            break
        skirt += _paths(ring, Kind.SKIRT, closed=True)
    return skirt[::-1] + brim[::-1]


def plan_layers(
    regions: Sequence[shapely.Geometry],
    tops: np.ndarray,
    settings: SliceSettings,
    workers: Workers = SERIAL,
) -> list[Layer]:
    """Toolpaths for every layer. `regions[i]` is the filled outline of layer i, whose top is
    `tops[i]`.

    A layer that repeats the one below (slicing.repeats) shares its outline object, and each
    step below is remembered by the identity of what it was given: the loops of an outline,
    the split of a stack of infill areas, the fill of a (solid, sparse, below) triple, the
    order of a layer's paths from where the nozzle stands. A repeated layer then costs a few
    dictionary look-ups, and shares its toolpath list with the layer it repeats.

    `workers`' threads plan the perimeters and fills of separate chunks of layers."""
    regions = share_repeats(regions)
    w = settings.spacing()
    heights = np.diff(np.r_[0.0, np.asarray(tops, dtype=float)])
    # each distinct (outline, height) once: the height by value, not its last bits
    keys = [(id(region), round(float(h), 6)) for region, h in zip(regions, heights, strict=True)]
    distinct = sorted({key: i for i, key in reversed(list(enumerate(keys)))}.values())

    def perimeters_of(chunk: range) -> list[tuple[list[Toolpath], shapely.Geometry]]:
        batch = distinct[chunk.start : chunk.stop]
        return perimeters_many([regions[i] for i in batch], settings, [keys[i][1] for i in batch])

    # chunks bound the arrays held at once
    planned = [
        shell
        for chunk in workers.map(perimeters_of, workers.chunks(len(distinct), FILL_BATCH))
        for shell in chunk
    ]
    shell_of = {keys[i]: shell for i, shell in zip(distinct, planned, strict=True)}
    shells = [shell_of[key] for key in keys]
    inners = [inner for _, inner in shells]
    splits = solid_areas(regions, inners, settings, workers)
    supports = plan_supports(regions, settings)
    infill = plan_fills(regions, splits, supports, settings, workers)
    layers: list[Layer] = []
    position = np.array([0.0, 0.0])
    links = {
        Kind.BRIDGE: 3.0 * settings.bridge_spacing(),
        Kind.SOLID: 3.0 * w,
        Kind.SPARSE: 3.0 * w / max(settings.infill, 0.01),
        Kind.SUPPORT: 3.0 * settings.support_spacing_mm,
        Kind.SUPPORT_INTERFACE: 3.0 * settings.support_interface_spacing_mm,
    }
    order_memo: dict[tuple[object, ...], tuple[list[Toolpath], np.ndarray]] = {}
    # whether each layer's loops rest on the layer below, for every layer in one test
    resting = np.r_[True, resting_layers([s[0] for s in shells[1:]], regions[:-1], settings)]
    for i, region in enumerate(regions):
        height = float(tops[i] - tops[i - 1]) if i else float(tops[0])
        key = (id(shells[i][0]), id(infill[i]), id(regions[i - 1]), *np.round(position, 4))
        if i > 0 and key in order_memo:
            ordered, position = order_memo[key]
            layers.append(Layer(z=float(tops[i]), height=height, paths=ordered))
            continue
        paths = shells[i][0] + infill[i]
        footprint = shapely.union(region, supports.sparse[0]) if i == 0 else region
        skirt = skirt_paths(footprint, settings) if i == 0 else []
        ordered, position = order_paths(skirt, paths, region, position, links)
        if i > 0:
            if not resting[i]:
                ordered = split_overhangs(ordered, regions[i - 1], settings)
            order_memo[key] = (ordered, position)
        layers.append(Layer(z=float(tops[i]), height=height, paths=ordered))
    return layers


def plan_fills(
    regions: Sequence[shapely.Geometry],
    splits: Sequence[tuple[shapely.Geometry, shapely.Geometry]],
    supports: SupportPlan,
    settings: SliceSettings,
    workers: Workers = SERIAL,
) -> list[list[Toolpath]]:
    """Every layer's open lines: bridges over air, solid and sparse infill, supports.

    Each kind is filled for all layers in one `fill_many`; a layer handed the same areas as
    an earlier one of its parity (a repeated layer) shares that layer's list."""
    w = settings.spacing()
    count = len(regions)
    first: dict[tuple[int, ...], int] = {}
    owner = []  # the layer whose fill each layer shares
    for i in range(count):
        below = regions[i - 1] if i > 0 else None
        key: tuple[int, ...] = (i % 2, id(splits[i][0]), id(splits[i][1]), id(below))
        key += (id(supports.sparse[i]), id(supports.interface[i]))
        key += (id(splits[i - 1][1]) if i > 0 else 0,)  # what its internal bridges rest on
        owner.append(first.setdefault(key, i))
    todo = [i for i in range(count) if owner[i] == i]
    angles = [45.0 if i % 2 == 0 else 135.0 for i in todo]
    solids, bridges, across, inside = [], [], [], []
    with_solid = [i for i in todo if i > 0 and not splits[i][0].is_empty]
    overhanging = _outgrows_below(regions, with_solid, settings)
    spacing = settings.bridge_spacing()

    def bridged(i: int) -> tuple[shapely.Geometry, shapely.Geometry, shapely.Geometry, float]:
        """Layer i's (solid, bridge over air, bridge over sparse infill, bridge angle)."""
        solid = splits[i][0]
        bridge: shapely.Geometry = EMPTY
        over_sparse: shapely.Geometry = EMPTY
        if i > 0 and not solid.is_empty:
            if i in overhanging:
                bridge, solid = bridge_areas(solid, regions[i - 1], settings)
            over_sparse, solid = internal_bridges(solid, splits[i - 1][1], settings)
        angle = 0.0 if bridge.is_empty else bridge_angle(bridge, regions[i - 1], spacing)
        return solid, bridge, over_sparse, angle

    spans = workers.chunks(len(todo), len(todo))
    for piece in workers.map(lambda r: [bridged(todo[n]) for n in r], spans):
        for solid, bridge, over_sparse, angle in piece:
            solids.append(solid)
            bridges.append(bridge)
            inside.append(over_sparse)
            across.append(angle)
    width = settings.line_width_mm
    # support: lines that turn 90° from layer to layer (a grid), its top laid dense
    grid = [0.0 if i % 2 == 0 else 90.0 for i in todo]
    jobs = [
        (bridges, settings.bridge_spacing(), across, Kind.BRIDGE),
        # over sparse infill: across the sparse lines below (they turn 90° from layer to layer)
        (inside, settings.bridge_spacing(), angles, Kind.BRIDGE),
        (solids, w, angles, Kind.SOLID),
        ([splits[i][1] for i in todo], w / max(settings.infill, 1e-9), angles, Kind.SPARSE),
        ([supports.sparse[i] for i in todo], settings.support_spacing_mm, grid, Kind.SUPPORT),
        (
            [supports.interface[i] for i in todo],
            settings.support_interface_spacing_mm,
            angles,
            Kind.SUPPORT_INTERFACE,
        ),
    ]
    if settings.infill <= 0.0:
        jobs.pop(3)
    # in chunks, so the arrays of a large part's every layer never exist at once; the
    # chunks of every kind on the threads, their lines added in the serial order
    pieces = [(job, chunk) for job in jobs for chunk in workers.chunks(len(todo), FILL_BATCH)]

    def fill(piece: tuple[tuple[Any, ...], range]) -> list[list[Toolpath]]:
        (areas, spacing, turns, kind), chunk = piece
        lo, hi = chunk.start, chunk.stop
        return fill_many(areas[lo:hi], spacing, turns[lo:hi], kind, width=width)

    done: list[list[Toolpath]] = [[] for _ in todo]
    for (_, chunk), filled in zip(pieces, workers.map(fill, pieces), strict=True):
        for n, paths in enumerate(filled, start=chunk.start):
            done[n] += paths
    by_layer = dict(zip(todo, done, strict=True))
    return [by_layer[owner[i]] for i in range(count)]


def _outgrows_below(
    regions: Sequence[shapely.Geometry], layers: Sequence[int], settings: SliceSettings
) -> set[int]:
    """The layers of `layers` whose outline reaches beyond the layer below's by an area
    `bridge_areas` would bridge (over 4 lines' squares): only their solid can hang over air,
    as a layer's solid lies inside its outline and each piece of it over air inside one piece
    of the outline's step. One array operation on the outlines (a few dozen points each)
    instead of a difference of every layer's solid, whose arcs make it the dearer overlay; a
    layer repeating the one below (the same object) has no step."""
    at = [i for i in layers if i > 0 and regions[i] is not regions[i - 1]]
    if not at:
        return set()
    shapes = np.array(regions, dtype=object)
    steps = overlay(shapely.difference, shapes[at], shapes[np.array(at) - 1])
    parts, owner = shapely.get_parts(steps, return_index=True)
    big = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 4 * settings.line_width_mm**2)
    return {at[k] for k in np.unique(owner[big]).tolist()}


BRIDGE_ANCHOR_MM = 2.0  # bridge lines reach this far onto supported ground at each end


def bridge_areas(
    solid: shapely.Geometry, below: shapely.Geometry, settings: SliceSettings
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Split a layer's solid infill into (bridge, rest): the bridge is what hangs over air
    (not over the layer below), grown by an anchor onto supported solid at its ends."""
    air = shapely.difference(solid, below)
    parts = polygon_parts(air)
    parts = parts[shapely.area(parts) > 4 * settings.line_width_mm**2]
    if len(parts) == 0:
        return shapely.Polygon(), solid
    bridge = shapely.intersection(shapely.buffer(shapely.union_all(parts), BRIDGE_ANCHOR_MM), solid)
    return bridge, shapely.difference(solid, bridge)


def bridge_angle(bridge: shapely.Geometry, below: shapely.Geometry, spacing: float) -> float:
    """The direction (degrees) in which most bridge lines rest on the layer below at both
    ends (pillar to pillar, not edge to edge over air); then the shortest spans."""
    shapely.prepare(below)
    best, best_score = 0.0, (-1.0, 0.0)
    for angle in range(0, 180, 15):
        a = np.radians(angle)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        turned = shapely.make_valid(shapely.transform(bridge, lambda xy, r=rot: xy @ r.T))
        _, y, xa, xb = scan_pieces(turned, spacing)
        if len(y) == 0:
            continue
        ends = np.concatenate([np.stack([xa, y], 1), np.stack([xb, y], 1)]) @ rot
        held = shapely.contains_xy(below, ends[:, 0], ends[:, 1]).reshape(2, -1).all(axis=0)
        span = xb - xa
        score = (float((span * held).sum() / span.sum()), -float(np.percentile(span, 90)))
        if score > best_score:
            best, best_score = float(angle), score
    return best


def order_paths(
    first: list[Toolpath],
    paths: list[Toolpath],
    region: shapely.Geometry,
    position: np.ndarray,
    links: dict[Kind, float],
) -> tuple[list[Toolpath], np.ndarray]:
    """Print island by island, nearest island next, each loop starting nearest the nozzle.

    Within an island perimeters come first (inner, then outer), then solid, then sparse infill,
    each kind's lines in nearest-neighbour order; finishing one island before the next halves
    travel and retractions on parts with several islands or plates with several copies.
    `links[kind]`: a fill line starting this close to the previous one's end needs no
    retraction (the travel stays inside the fill area).
    """
    islands = shapely.get_parts(region)
    ordered: list[Toolpath] = []
    for path in first:
        path = _start_near(path, position)
        ordered.append(path)
        position = path.points[-1]
    if not paths:
        return ordered, position
    starts = np.array([p.points[0] for p in paths])
    owner = np.full(len(paths), -1)
    for k, island in enumerate(islands):
        inside = shapely.contains_xy(island, starts[:, 0], starts[:, 1]) & (owner < 0)
        owner[inside] = k
    groups = [np.flatnonzero(owner == k) for k in range(-1, len(islands))]
    groups = [g for g in groups if len(g)]
    while groups:
        # the next island is the one whose first path starts nearest the nozzle
        gaps = [float(np.hypot(*(starts[g[0]] - position))) for g in groups]
        group = groups.pop(int(np.argmin(gaps)))
        # the group's open lines by kind, in one pass (not one pass per kind)
        by_kind: dict[Kind, list[Toolpath]] = {}
        for i in group.tolist():
            path = paths[i]
            if path.closed:
                path = _start_near(path, position)
                ordered.append(path)
                position = path.points[-1]
            else:
                by_kind.setdefault(path.kind, []).append(path)
        for kind in OPEN_KINDS:
            if kind not in by_kind:
                continue
            reach = links.get(kind, 0.0)
            for path in _nearest_first(by_kind[kind], position):
                start = path.points[0]
                gap = math.hypot(float(start[0] - position[0]), float(start[1] - position[1]))
                link = bool(ordered) and ordered[-1].kind == kind and gap < reach
                ordered.append(_with(path, linked=link))
                position = path.points[-1]
    return ordered, position


def _nearest_first(lines: list[Toolpath], position: np.ndarray) -> list[Toolpath]:
    """Greedy tour of open lines: next the line with an end nearest the nozzle, walked from it."""
    if len(lines) < 2:
        return lines
    n = len(lines)
    # ends[j]: line j's head for j < n, line j - n's tail for j >= n, walked from that end
    ends = np.array([p.points[0] for p in lines] + [p.points[-1] for p in lines])
    far = np.zeros(2 * n)
    out: list[Toolpath] = []
    x, y = float(position[0]), float(position[1])
    for _ in range(n):
        d = (ends[:, 0] - x) ** 2 + (ends[:, 1] - y) ** 2 + far
        j = int(np.argmin(d))  # a head wins a tie with a tail, as it comes first
        line = lines[j % n]
        points = line.points if j < n else line.points[::-1]
        far[j % n] = far[j % n + n] = np.inf
        out.append(_with(line, points=points))
        x, y = float(points[-1, 0]), float(points[-1, 1])
    return out


def _with(
    path: Toolpath, *, points: np.ndarray | None = None, linked: bool | None = None
) -> Toolpath:
    """`path` with new points or link flag: dataclasses.replace, without its introspection
    (a layer makes thousands)."""
    return Toolpath(
        path.kind,
        path.points if points is None else points,
        path.closed,
        path.linked if linked is None else linked,
        path.flow_mm2,
    )


def _start_near(path: Toolpath, position: np.ndarray) -> Toolpath:
    """A closed loop rotated to start at its vertex nearest `position` (a nearest seam)."""
    if not path.closed or len(path.points) < 3:
        return path
    ring = path.points[:-1]
    k = int(np.argmin(((ring - position) ** 2).sum(axis=1)))
    if k == 0:
        return path
    rolled = np.roll(ring, -k, axis=0)
    return _with(path, points=np.vstack([rolled, rolled[:1]]))
