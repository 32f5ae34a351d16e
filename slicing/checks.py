"""Mesh checks and safe repairs, each explained in words an employee understands.

A check either refuses the part (MeshError) or adds a note saying what was found and what was
done about it. Repairs are the ones that cannot change the shape: merging duplicate vertices,
dropping degenerate and duplicate triangles, making normals consistent and outward, closing
small holes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import trimesh

from slicing.errors import MeshError

Box = tuple[float, float, float]

# Past this share of edges that belong to one triangle only, a mesh is not a surface with holes
# but a triangle soup: closing its "holes" would double it and every triangle would be a body
# of its own (a 3.8-million-triangle soup once drove a slice to 9 GB).
MAX_OPEN_EDGE_SHARE = 0.25
MAX_BODIES = 10_000
MAX_CORNERS_PER_FACE = 1.5  # a closed surface has about 0.5; a soup, 3


@dataclass(frozen=True)
class Checked:
    mesh: trimesh.Trimesh
    watertight: bool
    bodies: int
    notes: list[str] = field(default_factory=list)
    scale_hint: float | None = None  # a suggested scale factor when the units look wrong
    # What was changed (or will be, by the slicer) to make the mesh printable, in words: the
    # owner is asked whether to print it so (farm.services.questions).
    repairs: list[str] = field(default_factory=list)


def check_and_repair(
    mesh: trimesh.Trimesh,
    *,
    build_volumes: Sequence[Box],
    nozzle_mm: float = 0.4,
    suggest_units: bool = True,
) -> Checked:
    """Repair what is safe to repair, refuse what cannot be printed on any of `build_volumes`.

    `mesh` is modified in place (it is the freshly loaded copy). Sizes are in millimetres.
    With `suggest_units` False (its owner chose the scale) a part too small to print is
    refused rather than given a scale hint.
    """
    notes: list[str] = []
    repairs: list[str] = []

    def repaired(what: str) -> None:
        notes.append(what)
        repairs.append(what)

    faces_before = len(mesh.faces)
    _refuse_scattered_corners(mesh)
    mesh.merge_vertices()
    # first, as every later step costs a soup far more than a real part
    _refuse_soup(len(trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)), faces_before)
    unique = _unique_faces(mesh.faces)
    if not unique.all():
        mesh.update_faces(unique)
        repaired(f"removed {int((~unique).sum())} duplicate triangle(s) of {faces_before}")
    degenerate = int((~mesh.nondegenerate_faces(height=1e-8)).sum())
    if degenerate == len(mesh.faces):
        raise MeshError("every triangle in the file is degenerate (zero area): nothing to print")
    if degenerate:
        # removing them would open slits between their neighbours; slicing ignores them anyway
        notes.append(f"{degenerate} degenerate (zero-area) triangle(s) are ignored")
    watertight = bool(mesh.is_watertight)
    if not watertight:
        open_edges = len(trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1))
        if open_edges:
            trimesh.repair.fill_holes(mesh)
        watertight = bool(mesh.is_watertight)
        if watertight:
            repaired(f"the mesh had holes ({open_edges} open edges); they were closed")
        elif open_edges:
            repaired(
                f"the mesh has holes ({open_edges} open edges) too large to close safely: "
                "each layer's outline is closed by the slicer, check the preview"
            )
        else:
            repaired(
                "some edges are shared by more than two triangles (non-manifold); "
                "the slicer fills each layer's outline, check the preview"
            )
    if not mesh.is_winding_consistent:
        trimesh.repair.fix_winding(mesh)
        repaired("some triangles faced the wrong way; their order was made consistent")
    if watertight and mesh.volume < 0:
        mesh.invert()
        repaired("the normals pointed inwards (an inside-out mesh); they were flipped")
    bodies = int(mesh.body_count)
    if bodies > MAX_BODIES:
        raise MeshError(
            f"the file holds {bodies:,} separate bodies (at most {MAX_BODIES:,} print as one "
            "job): it is not one part. Export it again as a closed mesh, or split it into jobs."
        )
    if bodies > 1:
        notes.append(f"the file holds {bodies} separate bodies: they print together as one job")
    x, y, z = (float(v) for v in mesh.extents)
    extents = (x, y, z)
    scale_hint = _units_hint(extents, build_volumes, nozzle_mm) if suggest_units else None
    if scale_hint is not None:
        unit = "metres" if scale_hint == 1000.0 else "inches"
        notes.append(
            f"the part is only {_size(extents)}: it looks drawn in {unit}. "
            f"Scale it by {scale_hint:g} to print it at its real size."
        )
    _check_fits(extents, build_volumes, mesh)
    _check_printable_size(extents, nozzle_mm, scale_hint)
    return Checked(mesh, watertight, bodies, notes, scale_hint, repairs)


def _refuse_scattered_corners(mesh: trimesh.Trimesh) -> None:
    """Refuse a soup before merging its vertices (45 s for 1.9 million triangles): in a closed
    surface each corner is shared by about six triangles, so there are about half as many
    distinct corners as triangles; a soup has three per triangle. Sorting the corners, rounded
    to a micrometre (0.001 mm), costs seconds."""
    faces = len(mesh.faces)
    corners = np.round(np.asarray(mesh.vertices)[np.asarray(mesh.faces).ravel()], 3)
    rows = np.ascontiguousarray(corners).view(np.dtype((np.void, corners.dtype.itemsize * 3)))
    distinct = len(np.unique(rows))
    if distinct > MAX_CORNERS_PER_FACE * faces:
        raise MeshError(
            f"the mesh is not a closed surface: its {faces:,} triangles have {distinct:,} "
            "distinct corners, where a closed surface has about half as many corners as "
            "triangles; it is a triangle soup (triangles that do not join up). Export it again "
            "as a closed (watertight) solid."
        )


def _refuse_soup(open_edges: int, faces: int) -> None:
    edges = 3 * faces
    if edges and open_edges > MAX_OPEN_EDGE_SHARE * edges:
        raise MeshError(
            f"the mesh is not a closed surface: {open_edges:,} of its {edges:,} triangle edges "
            f"({open_edges / edges:.0%}) belong to one triangle only, as in a triangle soup "
            "(triangles that do not join up). Export it again as a closed (watertight) solid."
        )


def _unique_faces(faces: np.ndarray) -> np.ndarray:
    """(n, 3) int faces -> (n,) bool, False for the second and later copies of a triangle."""
    mask = np.zeros(len(faces), dtype=bool)
    mask[trimesh.grouping.unique_rows(np.sort(faces, axis=1))[0]] = True
    return mask


def _size(extents: Sequence[float]) -> str:
    return " × ".join(f"{v:.3g}" for v in extents) + " mm"


def fits(extents: Sequence[float], build: Box) -> bool:
    """Whether a box of `extents` fits `build` lying on any of its faces, axis-aligned."""
    return any(
        all(a <= b + 1e-6 for a, b in zip(perm, build, strict=True))
        for perm in itertools.permutations(extents)
    )


def _check_fits(extents: Box, build_volumes: Sequence[Box], mesh: trimesh.Trimesh) -> None:
    if not build_volumes or any(fits(extents, b) for b in build_volumes):
        return
    # the axis-aligned box may be pessimistic for a part drawn at an angle
    try:
        oriented = tuple(float(v) for v in mesh.bounding_box_oriented.primitive.extents)
    except (ValueError, RuntimeError):  # qhull: flat or too few points for an oriented box
        oriented = extents
    if any(fits(oriented, b) for b in build_volumes):
        return
    largest = max(build_volumes, key=lambda b: b[0] * b[1] * b[2])
    raise MeshError(
        f"the part is {_size(extents)}: it does not fit any printer in the farm in any "
        f"orientation (the largest build volume is {_size(largest)}). Split it or scale it down."
    )


def _check_printable_size(extents: Box, nozzle_mm: float, scale_hint: float | None) -> None:
    if scale_hint is not None:
        return  # the units note already explains the tiny size
    if max(extents) < 4 * nozzle_mm:
        raise MeshError(
            f"the part is only {_size(extents)}: too small to print with a {nozzle_mm} mm nozzle."
        )
    if min(extents) < nozzle_mm:
        raise MeshError(
            f"the part is {min(extents):.2f} mm thin at its thinnest: thinner than one line "
            f"of a {nozzle_mm} mm nozzle, so it cannot be printed."
        )


def _units_hint(extents: Box, build_volumes: Sequence[Box], nozzle_mm: float) -> float | None:
    """1000 when the part looks drawn in metres, 25.4 for inches, else None."""
    largest = max(extents)
    if largest >= 10 * nozzle_mm:
        return None
    for factor in (1000.0, 25.4):
        scaled = tuple(v * factor for v in extents)
        if max(scaled) >= 10.0 and (
            not build_volumes or any(fits(scaled, b) for b in build_volumes)
        ):
            return factor
    return None
