"""Loading a mesh with trimesh and measuring it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh


class MeshError(ValueError):
    """The file is not a usable mesh; the message says why, for people."""


@dataclass(frozen=True)
class MeshInfo:
    faces: int
    volume_mm3: float
    area_mm2: float
    size_mm: tuple[float, float, float]
    watertight: bool
    notes: list[str] = field(default_factory=list)


def load_mesh(path: Path) -> MeshInfo:
    """Measure a mesh file (through the guarded loader: size limits, zip-bomb check)."""
    from slicing.loader import load_trimesh  # the loader needs MeshError from this module

    mesh: trimesh.Trimesh = load_trimesh(path)
    mesh.merge_vertices()
    notes: list[str] = []
    if not mesh.is_watertight:
        notes.append("the mesh is not watertight: its volume is estimated from its hull")
        volume = float(mesh.convex_hull.volume)
    else:
        volume = abs(float(mesh.volume))
    extents = mesh.extents
    if not np.all(np.isfinite(extents)):
        raise MeshError("the mesh has vertices at infinite or undefined positions")
    x, y, z = (float(v) for v in extents)
    return MeshInfo(
        faces=len(mesh.faces),
        volume_mm3=volume,
        area_mm2=float(mesh.area),
        size_mm=(x, y, z),
        watertight=bool(mesh.is_watertight),
        notes=notes,
    )
