"""Gap fill: what the perimeters and the infill leave unfilled, printed as lines of its own width.

A wall between one and two perimeters' widths (a 1.2 mm vase wall with two 0.45 mm
perimeters) keeps a strip in its middle that no loop fits in; a wall narrower than one line
gets no loop at all. Left alone they print hollow, or not at all. Here the uncovered area of a
layer is found (the layer's outline less the perimeters' beads and the infill area), strips
too thin to matter are dropped, and each strip is printed along its centre line (its medial
axis) with a bead as wide as the strip there, so the extruded volume is the strip's area
times the layer height: variable-width extrusion, as PrusaSlicer's gap fill and Cura's
"print thin walls" do.

The centre line is the medial axis approximated from the Voronoi diagram of points sampled
densely along the strip's outline (scipy): the Voronoi edges whose two ends lie inside the
strip. Short spurs towards the strip's corners are pruned; the rest is chained into lines
and each line extruded at its mean width, scaled so each strip's volume is exact.
"""

from __future__ import annotations

import functools

import numpy as np
import shapely
from scipy.spatial import QhullError, Voronoi

from slicing.settings import SliceSettings
from slicing.toolpaths_base import Kind, Toolpath

# Strips thinner than this share of a line are left: the beads' own overlap makes them.
MIN_WIDTH_SHARE = 0.25
MAX_WIDTH_SHARE = 2.0  # a bead at most twice the line width (wider would be infill's)


def uncovered(
    region: shapely.Geometry, loop_areas: list[shapely.Geometry], settings: SliceSettings
) -> shapely.Geometry:
    """The parts of `region` no perimeter bead and no infill fills, less strips under a
    quarter line. `loop_areas[k]`: the area inside perimeter k's centre line (k = 0 outermost).

    Bead k covers `spacing / 2` either side of its centre line. Between two neighbouring
    beads nothing is left wherever the inner offset exists (the outer bead's inner edge and
    the inner bead's outer edge are the same offset of the outline); a strip is left only where
    the inner offset vanished: so each level's gap is the outer edge's offset less the
    inner bead grown back by half a bead. Polygon offsets only: far cheaper than growing the
    beads' lines. `region` and the areas may be arrays (every layer at once), element-wise."""
    half = settings.spacing() / 2
    edges = [region]  # a wall too thin for a bead is filled to its outline
    edges += [shapely.buffer(area, -half, quad_segs=3) for area in loop_areas]
    grown = [shapely.buffer(area, half, quad_segs=3) for area in loop_areas]
    # edge k: where bead k-1 ends inward (edge 0: the outline; the sliver outside the external
    # bead is under the opening below); the strip from there that bead k does not reach
    # a union of the levels' gaps pair by pair: for one layer, or element-wise for arrays
    gaps = functools.reduce(
        shapely.union,
        [shapely.difference(edge, grown_k) for edge, grown_k in zip(edges, grown, strict=False)],
    )
    thin = MIN_WIDTH_SHARE * settings.line_width_mm / 2
    return shapely.buffer(shapely.buffer(gaps, -thin, quad_segs=2), thin, quad_segs=2)


def gap_fill_paths(
    gaps: shapely.Geometry, settings: SliceSettings, height: float
) -> list[Toolpath]:
    """Lines along the middle of every strip of `gaps`, each with the flow that fills it."""
    # A prismatic part has the same strips on layer after layer: work them out once. A
    # layer whose strips differ from the last filled ones by less than a hundredth of a bead's
    # square (the outline differs in the last digits) takes those lines.
    w = settings.line_width_mm
    last = _LAST.get((settings, height))
    if last is not None and shapely.symmetric_difference(last[0], gaps).area < 0.01 * w * w:
        return list(last[1])
    found = tuple(_gap_fill(gaps, settings, height))
    _LAST[(settings, height)] = (gaps, found)
    return list(found)


# the last strips filled per settings and layer height (one slice at a time per process)
_LAST: dict[tuple[SliceSettings, float], tuple[shapely.Geometry, tuple[Toolpath, ...]]] = {}


def _gap_fill(gaps: shapely.Geometry, settings: SliceSettings, height: float) -> list[Toolpath]:
    w = settings.line_width_mm
    paths: list[Toolpath] = []
    for strip in shapely.get_parts(gaps):
        if strip.is_empty or strip.area < 0.25 * w * w:
            continue
        lines = _medial_lines(strip, step=w / 2.5, prune=w)
        if not lines:
            continue
        widths = [min(MAX_WIDTH_SHARE * w, float(np.mean(r))) for _, r in lines]
        laid = sum(_length(p) * width for (p, _), width in zip(lines, widths, strict=True))
        if laid <= 0:
            continue
        scale = strip.area / laid  # the strip's area, exactly, whatever the axis missed
        for (points, _), width in zip(lines, widths, strict=True):
            closed = len(points) > 3 and bool(np.allclose(points[0], points[-1]))
            flow = width * scale * height
            paths.append(Toolpath(Kind.GAP_FILL, points, closed, flow_mm2=flow))
    return paths


def _length(points: np.ndarray) -> float:
    return float(np.hypot(*np.diff(points, axis=0).T).sum())


def _medial_lines(
    strip: shapely.Polygon, *, step: float, prune: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The strip's medial axis as polylines, each with the strip's width at its points."""
    outline = shapely.segmentize(strip.boundary, step)
    samples = np.unique(shapely.get_coordinates(outline), axis=0)
    if len(samples) < 4:
        return []
    try:
        diagram = Voronoi(samples)
    except QhullError:  # points all on one line, say (never MemoryError: that is the budget's)
        return []
    vertices = diagram.vertices
    ridges = np.asarray(diagram.ridge_vertices, dtype=np.int64).reshape(-1, 2)
    ridges = ridges[(ridges >= 0).all(axis=1)]
    inside = shapely.contains_xy(strip, vertices[:, 0], vertices[:, 1])
    ridges = ridges[inside[ridges[:, 0]] & inside[ridges[:, 1]]]
    if len(ridges) == 0:
        return []
    neighbours: dict[int, set[int]] = {}
    for a, b in ridges.tolist():
        if a != b:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
    _prune_spurs(neighbours, vertices, prune)
    chains = [c for c in _chains(neighbours) if _length(vertices[c]) >= step]
    if not chains:
        return []
    used = np.unique(np.concatenate([np.asarray(c) for c in chains]))
    width = np.zeros(len(vertices))
    width[used] = 2 * shapely.distance(strip.boundary, shapely.points(vertices[used]))
    return [(vertices[c], width[c]) for c in chains]


def _prune_spurs(
    neighbours: dict[int, set[int]], vertices: np.ndarray, shorter_than: float
) -> None:
    """Remove branches that end in a leaf within `shorter_than` of a fork (the axis's
    whiskers into the strip's corners), keeping the trunk of a strip with no fork."""
    for _ in range(3):  # a whisker may hide another behind it
        removed = False
        for leaf in [n for n, near in neighbours.items() if len(near) == 1]:
            if leaf not in neighbours or len(neighbours[leaf]) != 1:
                continue
            branch, length, prev, node = [leaf], 0.0, -1, leaf
            while True:
                ahead = [m for m in neighbours[node] if m != prev]
                if not ahead:
                    break
                length += float(np.hypot(*(vertices[ahead[0]] - vertices[node])))
                prev, node = node, ahead[0]
                if len(neighbours[node]) != 2 or length >= shorter_than:
                    break
                branch.append(node)
            if len(neighbours[node]) >= 3 and length < shorter_than:
                for n in branch:
                    for m in neighbours.pop(n, set()):
                        if m in neighbours:
                            neighbours[m].discard(n)
                removed = True
        if not removed:
            return


def _chains(neighbours: dict[int, set[int]]) -> list[list[int]]:
    """The graph cut at its forks and ends into simple paths (a cycle stays one closed path)."""
    chains: list[list[int]] = []
    seen: set[tuple[int, int]] = set()
    stops = {n for n, near in neighbours.items() if len(near) != 2}
    for start in [*stops, *neighbours]:
        for first in neighbours.get(start, ()):
            if (start, first) in seen:
                continue
            chain, prev, node = [start], start, first
            seen.update({(start, first), (first, start)})
            while True:
                chain.append(node)
                if node in stops or node == start:
                    break
                ahead = [m for m in neighbours[node] if m != prev]
                if not ahead or (node, ahead[0]) in seen:
                    break
                seen.update({(node, ahead[0]), (ahead[0], node)})
                prev, node = node, ahead[0]
            chains.append(chain)
    return chains
