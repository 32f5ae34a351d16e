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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely

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


def plan_supports(regions: Sequence[shapely.Geometry], settings: SliceSettings) -> SupportPlan:
    count = len(regions)
    if settings.supports == "off" or count < 2:
        return no_supports(count)
    need = overhangs(regions, settings)
    area = float(sum(shapely.area(n) for n in need))
    if area <= settings.line_width_mm**2:
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
