"""Generated test parts for the slicing bench and tests: each stresses one feature.

- `thin_tube`: a 1.2 mm wall (two perimeters and a strip between them: gap fill).
- `overhang_part`: a block whose one side leans out 60° from the vertical (overhangs).
- `small_gear`: a 14 mm gear with thin teeth (small features, a part that slices quickly).
- `fin_part`: a 20 mm plate with a fin of a given thickness standing on it (thin features).

Built from vertices and faces directly (no boolean or triangulation engine needed).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import trimesh


def thin_tube(radius: float = 10.0, wall: float = 1.2, height: float = 20.0) -> trimesh.Trimesh:
    return trimesh.creation.annulus(r_min=radius - wall, r_max=radius, height=height, sections=128)


def overhang_part(angle_deg: float = 60.0, height: float = 10.0) -> trimesh.Trimesh:
    """A 10 mm deep block, 10 mm wide at the bed, one side leaning out at `angle_deg`."""
    reach = height * math.tan(math.radians(angle_deg))
    profile = [(0.0, 0.0), (10.0, 0.0), (10.0 + reach, height), (0.0, height)]  # x, z
    points = [(x, y, z) for x, z in profile for y in (0.0, 10.0)]
    return trimesh.convex.convex_hull(np.array(points))


def fin_part(thickness: float) -> trimesh.Trimesh:
    """A 20 x 20 x 2 mm plate with a fin `thickness` thick, 15 mm long and 10 mm tall on it."""
    plate = trimesh.creation.box((20.0, 20.0, 2.0))
    fin = trimesh.creation.box((thickness, 15.0, 10.0)).apply_translation((0.0, 0.0, 6.0))
    joined = trimesh.util.concatenate([plate, fin])
    assert isinstance(joined, trimesh.Trimesh)
    return joined


def small_gear(
    teeth: int = 14, tip_radius: float = 7.0, root_radius: float = 5.8, thickness: float = 4.0
) -> trimesh.Trimesh:
    """A spur gear's outline (trapezoid teeth), extruded; star-shaped, so each face is a fan."""
    outline = []
    for k in range(teeth):
        base = 2 * math.pi * k / teeth
        pitch = 2 * math.pi / teeth
        for share, r in (
            (0.0, root_radius),
            (0.2, tip_radius),
            (0.45, tip_radius),
            (0.65, root_radius),
        ):
            for sub in range(2 if r == tip_radius else 1):
                a = base + pitch * (share + 0.05 * sub)
                outline.append((r * math.cos(a), r * math.sin(a)))
    ring = np.array(outline)
    n = len(ring)
    bottom = np.column_stack([ring, np.zeros(n)])
    top = np.column_stack([ring, np.full(n, thickness)])
    vertices = np.vstack([bottom, top, [[0.0, 0.0, 0.0], [0.0, 0.0, thickness]]])
    c_bottom, c_top = 2 * n, 2 * n + 1
    faces = []
    for i in range(n):
        j = (i + 1) % n
        faces += [[c_bottom, j, i], [c_top, n + i, n + j], [i, j, n + j], [i, n + j, n + i]]
    mesh = trimesh.Trimesh(vertices=vertices, faces=np.array(faces), process=True)
    trimesh.repair.fix_normals(mesh)
    return mesh


PARTS: dict[str, Callable[[], trimesh.Trimesh]] = {
    "thin-tube": thin_tube,
    "overhang-60": overhang_part,
    "small-gear": small_gear,
}
