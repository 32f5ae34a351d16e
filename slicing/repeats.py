"""Repeated layers: a prismatic stretch of a part has the same outline on layer after layer.

Slicing planes cut a vertical wall's triangles at other points on every layer, so two outlines
of one wall differ in their vertices (a point mid-edge, a ring starting elsewhere) but not in
the area they enclose. `share_repeats` finds each layer whose outline is the one below it to
within a tenth of a micrometre on average and hands it the very same geometry object, so the
planner can work out a layer's toolpaths once and reuse them (keyed by object identity) for
every repeat: a 20 mm tube plans one layer instead of a hundred.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

# outlines this close (mean distance between them, mm) are one outline
SAME_MM = 1e-4


def share_repeats(regions: Sequence[shapely.Geometry]) -> list[shapely.Geometry]:
    """`regions` with each outline that repeats the one below replaced by that one."""
    out = list(regions)
    if len(out) < 2:
        return out
    shapes = np.array(out, dtype=object)
    area = shapely.area(shapes)
    bounds = shapely.bounds(shapes)
    length = shapely.length(shapes)
    # cheap tests first: the same area and box, else they differ for sure
    close = (np.abs(np.diff(area)) <= SAME_MM * length[1:] + 1e-9) & (
        np.abs(np.diff(bounds, axis=0)) <= 1e-3
    ).all(axis=1)
    close &= ~shapely.is_empty(shapes[1:])
    for i in (np.flatnonzero(close) + 1).tolist():
        # against the run's first outline, not the layer below: a slow taper must not creep
        # through a run of small steps
        kept = out[i - 1]
        apart = shapely.area(shapely.symmetric_difference(kept, out[i]))
        if apart <= SAME_MM * float(length[i]):
            out[i] = kept
    return out
