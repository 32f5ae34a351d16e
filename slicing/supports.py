"""Supports: where a layer reaches out further than the one below can hold, columns of sparse
lines are built up under it from the bed (or from the part), with a gap to the part.

Per layer (plain shapely over whole layers):

- *overhang*: what layer i has beyond layer i-1 grown by `h · tan(angle)` (a wall leaning less
  than `support_angle_deg` from the vertical holds itself), less slivers under a line wide;
- *support*: every overhang projected down, from `support_z_gap_layers` layers under it to the
  bed, kept `support_xy_gap_mm` away from the part on each layer; on the part's own top it
  stops one layer above (everywhere), or the whole column is dropped when it would stand on
  the part (`bed`: touching the bed only);
- *interface*: the top `support_interface_layers` layers of support under each overhang, laid
  dense so the overhang rests on a surface, not on a grid of lines.

`auto` (the farm decides, for a job that left it to the farm): supports are added, wherever
needed, only under the overhangs the part cannot print without. What overhangs, less what
can be bridged (a ceiling whose lines rest on the layer below at both ends: a doorway's top,
a cabin roof between its walls), is grouped into overhanging surfaces (pieces of
neighbouring layers that touch); a surface needs support when it covers at least
`support_auto_min_mm2` and either reaches `support_auto_min_reach_mm` out beyond the layer
under it, or holds a ledge two lines wide somewhere. A slope's strips that add up to a
millimetre or two (a hull's flare, a roof's eaves, a window's arch) print on their own; a
block leaning out 60° reaches 17 mm out and does not. A 20 mm calibration cube's engraved
letters have ceilings, and bridge them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import trimesh

from slicing.infill import scan_pieces
from slicing.layers import layer_heights, slice_mesh
from slicing.settings import SliceSettings

EMPTY = shapely.Polygon()
HAIRLINE_MM = 0.005


@dataclass(frozen=True)
class SupportPlan:
    sparse: list[shapely.Geometry]  # per layer: support laid as a sparse grid of lines
    interface: list[shapely.Geometry]  # per layer: the dense top under an overhang
    overhang_mm2: float  # the overhanging area that needed support, summed over layers

    @property
    def any(self) -> bool:
        return self.overhang_mm2 > 0


def no_supports(count: int) -> SupportPlan:
    return SupportPlan([EMPTY] * count, [EMPTY] * count, 0.0)


def overhangs(
    regions: Sequence[shapely.Geometry], settings: SliceSettings
) -> list[shapely.Geometry]:
    """What each layer has that the layer below does not hold."""
    reach = settings.layer_height_mm * math.tan(math.radians(settings.support_angle_deg))
    out = [EMPTY]
    for below, layer in zip(regions, regions[1:], strict=False):
        bare = shapely.difference(layer, shapely.buffer(below, reach, quad_segs=3))
        # A slope's overhang is a thin strip on each layer (0.06 mm at 60°, 0.2 mm layers)
        # that the strips above add up to: keep those, drop only hairlines (the last digits
        # of two outlines of one vertical wall).
        bare = shapely.buffer(shapely.buffer(bare, -HAIRLINE_MM, quad_segs=1), HAIRLINE_MM)
        out.append(bare)
    return out


BRIDGE_ANCHOR_MM = 2.0  # a bridge's lines reach this far onto the layer below at each end
BRIDGED_SHARE = 0.9  # of a ceiling's line length that rests on the layer below at both ends


def unbridged(
    need: Sequence[shapely.Geometry], regions: Sequence[shapely.Geometry], spacing: float
) -> list[shapely.Geometry]:
    """`need` (each layer's overhang) less the pieces that print as bridges: grown by an
    anchor onto the layer (as the bridge infill is), their lines in some direction rest on
    the layer below at both ends for at least `BRIDGED_SHARE` of their length."""
    out = [EMPTY] * len(need)
    for i, bare in enumerate(need):
        if bare.is_empty:
            continue
        below = regions[i - 1]
        shapely.prepare(below)
        kept = []
        pieces = shapely.get_parts(bare)
        # a strip thinner than half a line (a slope's share of one layer) is no ceiling
        thin = 2 * shapely.area(pieces) < spacing / 2 * shapely.length(pieces)
        for piece, strip in zip(pieces, thin.tolist(), strict=True):
            if strip:
                kept.append(piece)
                continue
            anchored = shapely.intersection(shapely.buffer(piece, BRIDGE_ANCHOR_MM), regions[i])
            if _bridged_share(anchored, below, spacing) < BRIDGED_SHARE:
                kept.append(piece)
        out[i] = shapely.union_all(kept) if kept else EMPTY
    return out


def needing_support(
    need: Sequence[shapely.Geometry], regions: Sequence[shapely.Geometry], settings: SliceSettings
) -> list[shapely.Geometry]:
    """`need` (each layer's overhang it cannot bridge) less the overhanging surfaces small
    enough to print on their own: pieces of neighbouring layers within a line of each other
    are one surface; a surface is kept when it covers `support_auto_min_mm2` and reaches
    `support_auto_min_reach_mm` beyond the outline under its first layer, or when one of its
    pieces is a ledge two lines wide (a flat overhang sags however short it is)."""
    w = settings.line_width_mm
    layer_of: list[int] = []
    pieces: list[shapely.Geometry] = []
    for i, bare in enumerate(need):
        if not bare.is_empty:
            parts = shapely.get_parts(bare)
            parts = parts[shapely.area(parts) > 0]
            pieces += parts.tolist()
            layer_of += [i] * len(parts)
    if not pieces:
        return [EMPTY] * len(need)
    # surfaces: union-find over the pieces of layers i and i + 1 that touch
    owner = list(range(len(pieces)))

    def root(k: int) -> int:
        while owner[k] != k:
            owner[k] = owner[owner[k]]
            k = owner[k]
        return k

    layers = np.array(layer_of)
    boxes = shapely.bounds(np.array(pieces, dtype=object))
    for k in range(len(pieces)):
        near = np.flatnonzero(layers == layers[k] + 1)
        near = near[
            (boxes[near, 0] <= boxes[k, 2] + w) & (boxes[near, 2] >= boxes[k, 0] - w)
            & (boxes[near, 1] <= boxes[k, 3] + w) & (boxes[near, 3] >= boxes[k, 1] - w)
        ]  # fmt: skip
        for m in near.tolist():
            if shapely.distance(pieces[k], pieces[m]) <= w:
                owner[root(m)] = root(k)
    surfaces: dict[int, list[int]] = {}
    for k in range(len(pieces)):
        surfaces.setdefault(root(k), []).append(k)
    kept: list[list[shapely.Geometry]] = [[] for _ in need]
    for members in surfaces.values():
        parts = [pieces[k] for k in members]
        if sum(p.area for p in parts) < settings.support_auto_min_mm2:
            continue
        first = min(layer_of[k] for k in members)
        base = regions[first - 1] if first > 0 else EMPTY
        corners = shapely.points(shapely.get_coordinates(np.array(parts, dtype=object)))
        reach = float(shapely.distance(base, corners).max()) if not base.is_empty else np.inf
        ledge = any(not shapely.buffer(p, -w, quad_segs=2).is_empty for p in parts)
        if reach < settings.support_auto_min_reach_mm and not ledge:
            continue
        for k in members:
            kept[layer_of[k]].append(pieces[k])
    return [shapely.union_all(k) if k else EMPTY for k in kept]


def _bridged_share(area: shapely.Geometry, below: shapely.Geometry, spacing: float) -> float:
    """The best share, over directions 15° apart, of line length across `area` whose both
    ends lie on `below`."""
    best = 0.0
    for angle in range(0, 180, 15):
        a = math.radians(angle)
        cos, sin = math.cos(a), math.sin(a)
        turned = shapely.make_valid(
            shapely.transform(area, lambda xy, c=cos, s=sin: xy @ [[c, -s], [s, c]])
        )
        _, y, xa, xb = scan_pieces(turned, spacing)
        if len(y) == 0:
            continue
        # back to the bed: (x, y) of the scan frame turned by +angle
        ends_x = [xa * cos - y * sin, xb * cos - y * sin]
        ends_y = [xa * sin + y * cos, xb * sin + y * cos]
        held = shapely.contains_xy(below, ends_x[0], ends_y[0]) & shapely.contains_xy(
            below, ends_x[1], ends_y[1]
        )
        span = xb - xa
        best = max(best, float((span * held).sum() / span.sum()))
    return best


def plan_supports(regions: Sequence[shapely.Geometry], settings: SliceSettings) -> SupportPlan:
    count = len(regions)
    if settings.supports == "off" or count < 2:
        return no_supports(count)
    need = overhangs(regions, settings)
    if settings.supports == "auto":
        # what the part cannot print without: its overhangs less what it bridges, and less
        # the small ones
        need = unbridged(need, regions, settings.bridge_spacing())
        need = needing_support(need, regions, settings)
    area = float(sum(shapely.area(n) for n in need))
    least = settings.support_auto_min_mm2 if settings.supports == "auto" else 0.0
    if area <= max(settings.line_width_mm**2, least):
        return no_supports(count)
    gap = settings.support_z_gap_layers
    keep_clear = [shapely.buffer(r, settings.support_xy_gap_mm, quad_segs=3) for r in regions]
    support = [EMPTY] * count
    column = EMPTY
    for j in reversed(range(count)):
        above = j + 1 + gap
        if above < count and not need[above].is_empty:
            column = shapely.union(column, need[above])
        if column.is_empty:
            continue
        # no support inside the part, nor within a layer above its top
        column = shapely.difference(column, regions[j - 1] if j else EMPTY)
        support[j] = shapely.difference(column, keep_clear[j])
    if settings.supports == "bed":
        # only what stands on the bed: each layer's support where the one below has some
        for j in range(1, count):
            support[j] = shapely.intersection(support[j], shapely.buffer(support[j - 1], 0.01))
    interface = [EMPTY] * count
    depth = settings.support_interface_layers
    for j in range(count):
        if support[j].is_empty:
            continue
        tops = [need[k] for k in range(j + 1 + gap, min(count, j + 1 + gap + depth))]
        if tops:
            interface[j] = shapely.intersection(support[j], shapely.union_all(tops))
    sparse = [shapely.difference(s, i) for s, i in zip(support, interface, strict=True)]
    return SupportPlan(sparse, interface, area)


def needs_supports(mesh: trimesh.Trimesh, settings: SliceSettings) -> bool:
    """Whether a placed part needs supports by the `auto` rule (for an engine that is not
    ours, asked for supports wherever needed only when it does): its layers cut as the
    built-in engine cuts them."""
    lo, hi = mesh.bounds
    tops = layer_heights(float(hi[2] - lo[2]), settings.first_layer_mm, settings.layer_height_mm)
    regions = slice_mesh(mesh, tops - np.diff(np.r_[0.0, tops]) / 2.0 + float(lo[2]))
    return plan_supports(regions, settings.with_changes(supports="auto")).any


SUPPORT_TYPES = (b";TYPE:Support", b";TYPE:SUPPORT")  # ours and PrusaSlicer's; CuraEngine's


def gcode_has_supports(path: Path) -> bool:
    """Whether a G-code prints any support (its `;TYPE:` comments say so, in every engine)."""
    tail = b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            window = tail + chunk
            if any(kind in window for kind in SUPPORT_TYPES):
                return True
            tail = window[-16:]
    return False
