"""Features of a part thinner than the nozzle can print, found before slicing so the part's
owner can be asked (every engine prints them thinner than drawn, or drops them).

Some layers of the oriented part are cut (a sample, so a tall part costs no more than a
short one). Each outline is opened by the nozzle: shrunk by half its width and grown back.
Whatever does not come back is narrower than the nozzle. The offsets are mitred, so square
and sharp corners come back whole and only real slivers are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import trimesh

from slicing.layers import slice_mesh

SAMPLED_LAYERS = 40
# A layer counts when this much of it is too thin: less is a chamfer's edge or a rounding
# error of the offsets, not a feature anybody drew.
MIN_AREA_MM2 = 0.5
# The part counts when at least this share of the layers looked at has such a feature.
MIN_SHARE = 0.05


@dataclass(frozen=True)
class ThinFeatures:
    thinnest_mm: float  # the narrowest feature found, about (twice its area over its outline)
    layers: int  # layers looked at with a feature too thin
    sampled: int  # layers looked at


def thin_features(mesh: trimesh.Trimesh, nozzle_mm: float) -> ThinFeatures | None:
    """The features of `mesh` (as it will print: oriented, on the bed) narrower than
    `nozzle_mm`, or None when there are none worth asking about."""
    lo, hi = mesh.bounds
    height = float(hi[2] - lo[2])
    if height <= 0 or nozzle_mm <= 0:
        return None
    n = SAMPLED_LAYERS
    planes = float(lo[2]) + (np.arange(n) + 0.5) * height / n
    outlines = np.array(slice_mesh(mesh, planes), dtype=object)
    half = nozzle_mm / 2.0
    opened = shapely.buffer(
        shapely.buffer(outlines, -half, join_style="mitre"), half, join_style="mitre"
    )
    lost = shapely.difference(outlines, opened)
    thin_layers = 0
    thinnest = np.inf
    for piece_set in lost:
        pieces = [
            p for p in shapely.get_parts(piece_set) if p.area > 0 and isinstance(p, shapely.Polygon)
        ]
        # a sliver's width: a strip w wide and L long has area wL and outline about 2L
        widths = [(2.0 * p.area / p.length, p.area) for p in pieces if p.length > 0]
        thin = [(w, a) for w, a in widths if w < nozzle_mm]
        if sum(a for _, a in thin) >= MIN_AREA_MM2:
            thin_layers += 1
            thinnest = min(thinnest, min(w for w, _ in thin))
    if thin_layers < max(1, MIN_SHARE * n):
        return None
    return ThinFeatures(thinnest_mm=float(thinnest), layers=thin_layers, sampled=n)
