"""Cut a mesh into layer outlines: one vectorised plane-triangle intersection for all layers.

trimesh's `section_multiplane` builds a Path2D per layer and needs rtree (not installed) to
find holes; instead every (triangle, plane) crossing is computed in one numpy pass and GEOS
`build_area` turns each layer's segments into polygons with even-odd filling, which also
closes the outlines of non-manifold meshes the way slicers expect.
"""

from __future__ import annotations

import numpy as np
import shapely
import trimesh

from slicing.mesh import MeshError

SIMPLIFY_MM = 0.0125


def layer_heights(top_mm: float, first_mm: float, layer_mm: float) -> np.ndarray:
    """(k,) float: the top Z of every layer of a part `top_mm` tall."""
    if top_mm < first_mm / 2:
        raise MeshError(f"the part is {top_mm:.2f} mm tall: less than one layer")
    count = max(1, int(round((top_mm - first_mm) / layer_mm)) + 1)
    return first_mm + layer_mm * np.arange(count)


def section_segments(
    vertices: np.ndarray, faces: np.ndarray, planes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Intersect every triangle with every horizontal plane it crosses.

    vertices: (v, 3) float; faces: (f, 3) int; planes: (k,) sorted float Z heights.
    Returns segments (s, 2, 2) float (XY end points) and plane index (s,) int, sorted by plane.
    """
    z = vertices[:, 2]
    # a vertex exactly on a plane would make a zero-length or doubled segment
    if np.isin(z, planes).any():
        planes = planes + 1e-7
    fz = z[faces]
    lo = np.searchsorted(planes, fz.min(axis=1), side="right")
    hi = np.searchsorted(planes, fz.max(axis=1), side="left")
    counts = np.maximum(hi - lo, 0)
    face_idx = np.repeat(np.arange(len(faces)), counts)
    starts = np.repeat(lo, counts)
    offsets = np.arange(len(face_idx)) - np.repeat(np.cumsum(counts) - counts, counts)
    plane_idx = starts + offsets
    h = planes[plane_idx]
    tri = faces[face_idx]  # (s, 3) vertex indices
    points = np.empty((len(tri), 2, 2))
    found = np.zeros(len(tri), dtype=np.int8)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        # order each edge by vertex index so the two triangles sharing it compute the very
        # same point, bit for bit: build_area then sees closed rings
        va = np.minimum(tri[:, a], tri[:, b])
        vb = np.maximum(tri[:, a], tri[:, b])
        za, zb = z[va], z[vb]
        crosses = (za - h) * (zb - h) < 0
        t = np.where(crosses, (h - za) / np.where(crosses, zb - za, 1.0), 0.0)
        p = vertices[va, :2] + t[:, None] * (vertices[vb, :2] - vertices[va, :2])
        first = crosses & (found == 0)
        second = crosses & (found == 1)
        points[first, 0] = p[first]
        points[second, 1] = p[second]
        found += crosses.astype(np.int8)
    ok = np.flatnonzero(found == 2)
    ok = ok[np.argsort(plane_idx[ok], kind="stable")]
    return points[ok], plane_idx[ok]


def slice_mesh(mesh: trimesh.Trimesh, planes: np.ndarray) -> list[shapely.Geometry]:
    """The filled outline (Polygon or MultiPolygon, maybe empty) of `mesh` at each plane."""
    segments, plane_idx = section_segments(
        np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces), planes
    )
    # rounding to 10 nm snaps points that differ only in the last bits onto each other
    segments = np.round(segments, 5)
    bounds = np.searchsorted(plane_idx, np.arange(len(planes) + 1))
    lines = np.empty(len(planes), dtype=object)
    for i in range(len(planes)):
        chunk = segments[bounds[i] : bounds[i + 1]]
        lines[i] = shapely.multilinestrings(chunk) if len(chunk) else shapely.MultiLineString()
    try:
        areas = shapely.build_area(lines)
    except shapely.errors.GEOSException:
        # one bad layer (crossing segments of a self-intersecting mesh) must not sink the rest
        areas = np.array([_build_area_robust(line) for line in lines], dtype=object)
    areas = shapely.make_valid(areas)
    # scanned and finely tessellated meshes give outlines with thousands of 10 µm segments;
    # 12.5 µm (PrusaSlicer's default resolution) is far below what a nozzle can draw, and
    # every later offset and clip runs in time proportional to the vertex count
    areas = shapely.make_valid(shapely.simplify(areas, SIMPLIFY_MM))
    return [_polygons_only(a) for a in areas]


def _build_area_robust(lines: shapely.Geometry) -> shapely.Geometry:
    try:
        return shapely.build_area(lines)
    except shapely.errors.GEOSException:
        # noding on a 1 µm grid resolves crossing and overlapping segments
        return shapely.build_area(shapely.set_precision(shapely.node(lines), 1e-3))


def _polygons_only(geometry: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geometry)
    polys = [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty]
    if not polys:
        return shapely.MultiPolygon()
    return shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
