"""Cut a mesh into layer outlines: one vectorised plane-triangle intersection for all layers.

trimesh's `section_multiplane` builds a Path2D per layer and needs rtree (not installed) to
find holes; instead every (triangle, plane) crossing is computed in one numpy pass, and each
layer's segments are chained into rings and filled even-odd (slicing.rings); a layer whose
segments do not chain cleanly goes to GEOS `build_area`, the same even-odd filling, which
also closes the outlines of non-manifold meshes the way slicers expect.
"""

from __future__ import annotations

import numpy as np
import shapely
import trimesh

from slicing.errors import MeshError
from slicing.parallel import SERIAL, Workers
from slicing.rings import chain_layers

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
    Each segment runs with the solid on its left (outer outlines counter-clockwise, holes
    clockwise), judged from its triangle's winding, so layers can be filled by winding number.
    """
    z = vertices[:, 2]
    planes = _clear_of_vertices(planes, z)
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
    points, tri = points[ok], tri[ok]
    corners = vertices[tri]  # (s, 3, 3)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[:, :2]
    direction = points[:, 1] - points[:, 0]
    # the outward normal must be on the segment's right: (dy, -dx) · n > 0
    flip = direction[:, 1] * normal[:, 0] - direction[:, 0] * normal[:, 1] < 0
    points[flip] = points[flip][:, ::-1]
    return points, plane_idx[ok]


def _clear_of_vertices(planes: np.ndarray, z: np.ndarray, gap: float = 1e-4) -> np.ndarray:
    """Move each plane that passes within `gap` of a vertex up by 2·gap.

    A vertex on (or a hair from) a plane makes zero-length segments that, once rounded, break
    the outline: CAD parts put whole rows of vertices at round heights like 2.3 mm.
    """
    levels = np.unique(z)
    idx = np.clip(np.searchsorted(levels, planes), 1, len(levels) - 1)
    near = np.minimum(np.abs(levels[idx] - planes), np.abs(levels[idx - 1] - planes))
    return np.where(near < gap, planes + 2 * gap, planes)


def slice_mesh(
    mesh: trimesh.Trimesh, planes: np.ndarray, workers: Workers = SERIAL
) -> list[shapely.Geometry]:
    """The filled outline (Polygon or MultiPolygon, maybe empty) of `mesh` at each plane.

    With several `workers`, each thread cuts every n-th plane (interleaved, so a hull's
    dense lower layers and its sparse top are shared out evenly): each plane's outline is
    the same whichever thread cuts it."""
    vertices, faces = np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces)
    n = min(workers.count, len(planes))
    if n < 2:
        return _slice_planes(vertices, faces, planes)
    parts = workers.map(lambda k: _slice_planes(vertices, faces, planes[k::n]), range(n))
    out: list[shapely.Geometry] = [None] * len(planes)
    for k, part in enumerate(parts):
        out[k::n] = part
    return out


def _slice_planes(
    vertices: np.ndarray, faces: np.ndarray, planes: np.ndarray
) -> list[shapely.Geometry]:
    segments, plane_idx = section_segments(vertices, faces, planes)
    # rounding to 10 nm snaps points that differ only in the last bits onto each other
    segments = np.round(segments, 5)
    bounds = np.searchsorted(plane_idx, np.arange(len(planes) + 1))
    # the layers whose segments chain into rings that do not cross (a clean closed mesh)
    chained = chain_layers(segments, plane_idx, len(planes))
    areas = np.array(chained, dtype=object)
    rest = np.array([a is None for a in chained], dtype=bool)
    if rest.any():
        areas[rest] = _build_areas(segments, plane_idx, bounds, np.flatnonzero(rest))
    # Even-odd filling (build_area) is right for clean outlines and fast. Where outlines
    # cross or overlap (intersecting shells, non-manifold edges) or do not close, its area
    # differs from the signed area of the oriented segments; those layers are filled again
    # by winding number, as PrusaSlicer does, so overlapping shells are unions, not holes.
    signed = np.bincount(
        plane_idx,
        weights=0.5
        * (segments[:, 0, 0] * segments[:, 1, 1] - segments[:, 1, 0] * segments[:, 0, 1]),
        minlength=len(planes),
    )
    suspect = np.abs(shapely.area(areas) - signed) > 0.01 + 1e-4 * np.abs(signed)
    for layer in np.flatnonzero(suspect).tolist():
        areas[layer] = fill_by_winding(segments[bounds[layer] : bounds[layer + 1]])
        rest[layer] = True
    if rest.any():  # the chained layers are valid already
        areas[rest] = shapely.make_valid(areas[rest])
    # scanned and finely tessellated meshes give outlines with thousands of 10 µm segments;
    # 12.5 µm (PrusaSlicer's default resolution) is far below what a nozzle can draw, and
    # every later offset and clip runs in time proportional to the vertex count
    # plain Douglas-Peucker (a fifth of the topology-preserving one's time on 3DBenchy): a
    # ring it makes cross itself is mended by make_valid, as any other outline is
    areas = shapely.make_valid(shapely.simplify(areas, SIMPLIFY_MM, preserve_topology=False))
    return [_polygons_only(a) for a in areas]


def _build_areas(
    segments: np.ndarray, plane_idx: np.ndarray, bounds: np.ndarray, layers: np.ndarray
) -> np.ndarray:
    """Even-odd areas of `layers` by GEOS build_area: each layer's segments as one
    multi-line, all built in two calls."""
    picked = np.concatenate([np.arange(bounds[k], bounds[k + 1]) for k in layers.tolist()])
    lines = np.full(len(layers), shapely.MultiLineString(), dtype=object)
    if len(picked):
        owner = np.searchsorted(layers, plane_idx[picked])
        present, compact = np.unique(owner, return_inverse=True)
        lines[present] = shapely.multilinestrings(
            shapely.linestrings(segments[picked]), indices=compact
        )
    try:
        return np.asarray(shapely.build_area(lines), dtype=object)
    except shapely.errors.GEOSException:
        return np.array([_safe_build_area(line) for line in lines], dtype=object)


def _safe_build_area(lines: shapely.Geometry) -> shapely.Geometry:
    try:
        return shapely.build_area(lines)
    except shapely.errors.GEOSException:
        return shapely.Polygon()  # the signed-area check sends it to fill_by_winding


def fill_by_winding(segments: np.ndarray) -> shapely.Geometry:
    """Fill oriented segments (s, 2, 2) by non-zero winding: the faces of the noded linework
    whose inner point is wound around at least once. Gaps under 1 µm are closed by snapping."""
    if len(segments) == 0:
        return shapely.Polygon()
    lines = shapely.set_precision(shapely.multilinestrings(segments), 1e-3)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.node(lines))))
    if len(faces) == 0:
        return shapely.Polygon()
    probes = shapely.get_coordinates(shapely.point_on_surface(faces))  # (f, 2)
    winding = _winding_numbers(probes, segments)
    return shapely.union_all(faces[winding > 0])


def _winding_numbers(points: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """(p,) int: how many times the oriented segments wind counter-clockwise around each point."""
    a, b = segments[None, :, 0], segments[None, :, 1]  # (1, s, 2)
    p = points[:, None, :]  # (p, 1, 2)
    side = (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (p[..., 0] - a[..., 0]) * (
        b[..., 1] - a[..., 1]
    )
    up = (a[..., 1] <= p[..., 1]) & (b[..., 1] > p[..., 1]) & (side > 0)
    down = (b[..., 1] <= p[..., 1]) & (a[..., 1] > p[..., 1]) & (side < 0)
    return np.asarray(up.sum(axis=1) - down.sum(axis=1))


def _polygons_only(geometry: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geometry)
    polys = [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty]
    if not polys:
        return shapely.MultiPolygon()
    return shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
