"""Auto-orientation: choose a stable resting pose with much bed contact and little overhang.

A rigid part can only rest on a facet of its convex hull, and only stably when its centre of
mass projects inside that facet. Each stable candidate is scored by the area of the part that
would need support (faces pointing down more steeply than the overhang angle, not on the bed)
against the area touching the bed; the pose it was drawn in gets a small bonus, because
designers usually draw parts the way up they mean them to print.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

OVERHANG_DEG = 45.0
CONTACT_WEIGHT = 3.0  # mm² of overhang one mm² of bed contact is worth (adhesion, stability)
MAX_CANDIDATES = 24
CONTACT_TOLERANCE_MM = 0.3  # the squashed first layer reaches this far up
MIN_CONTACT_MM2 = 100.0
CONTACT_COS = 0.9  # within 25° of flat: scanned parts have no perfectly flat faces
KEEP_DRAWN_POSE_BONUS = 0.10  # fraction of the best score the drawn pose may lose and still win


@dataclass(frozen=True)
class Pose:
    transform: np.ndarray  # (4, 4) float, applied to the loaded mesh
    contact_mm2: float
    overhang_mm2: float
    changed: bool

    def describe(self) -> str:
        how = "turned to rest on a stable face" if self.changed else "kept as drawn"
        return (
            f"orientation: {how} ({self.contact_mm2:.0f} mm² on the bed, "
            f"{self.overhang_mm2:.0f} mm² of overhang steeper than {OVERHANG_DEG:.0f}°)"
        )


def _candidate_downs(mesh: trimesh.Trimesh) -> np.ndarray:
    """(k, 3) unit vectors: directions that may point at the bed, largest hull facets first."""
    hull = mesh.convex_hull
    com = mesh.center_mass if mesh.is_watertight else hull.center_mass
    normals = [np.array([0.0, 0.0, -1.0])]
    order = np.argsort(-hull.facets_area)[:MAX_CANDIDATES]
    facet_faces = [hull.facets[i] for i in order]
    facet_normals = [hull.facets_normal[i] for i in order]
    # single hull triangles that belong to no facet can also be large resting faces
    in_facet = np.zeros(len(hull.faces), dtype=bool)
    for f in hull.facets:
        in_facet[f] = True
    loose = np.flatnonzero(~in_facet)
    loose = loose[np.argsort(-hull.area_faces[loose])][:MAX_CANDIDATES]
    facet_faces += [np.array([i]) for i in loose]
    facet_normals += [hull.face_normals[i] for i in loose]
    for faces, normal in zip(facet_faces, facet_normals, strict=True):
        if _com_inside(hull, faces, normal, com):
            normals.append(np.asarray(normal, dtype=float))
    return np.array(normals)


def _com_inside(
    hull: trimesh.Trimesh, faces: np.ndarray, normal: np.ndarray, com: np.ndarray
) -> bool:
    """Whether the centre of mass, dropped along `normal`, lands inside the resting facet."""
    tris = hull.triangles[faces]  # (m, 3, 3)
    depth = np.dot(tris[0, 0] - com, normal)
    point = com + normal * depth
    bary = trimesh.triangles.points_to_barycentric(tris, np.repeat(point[None], len(tris), 0))
    return bool(np.any(np.all(bary >= -1e-6, axis=1)))


def choose_pose(mesh: trimesh.Trimesh) -> Pose:
    """Score every stable pose and return the best (one vectorised pass over faces each)."""
    downs = _candidate_downs(mesh)
    normals = mesh.face_normals  # (n, 3)
    areas = mesh.area_faces  # (n,)
    centres = mesh.triangles_center  # (n, 3)
    steep_cos = np.cos(np.radians(90.0 - OVERHANG_DEG))
    contact_sum = np.zeros(len(downs))
    overhang_sum = np.zeros(len(downs))
    # one candidate at a time keeps memory at O(faces) on 200k-face meshes
    for i, down in enumerate(downs):
        cos_down = normals @ down
        height = centres @ down
        on_bed = height >= height.max() - CONTACT_TOLERANCE_MM
        contact_sum[i] = areas[(cos_down > CONTACT_COS) & on_bed].sum()
        overhang_sum[i] = areas[(cos_down > steep_cos) & ~on_bed].sum()
    # a little contact is worth much overhang: without contact the part falls over or warps
    score = overhang_sum - CONTACT_WEIGHT * np.minimum(contact_sum, areas.sum() * 0.1)
    # a part standing on a few mm² comes loose mid-print, however little overhang it has
    weak = contact_sum < min(MIN_CONTACT_MM2, 0.02 * areas.sum())
    score = score + weak * areas.sum()
    best = int(np.argmin(score))
    margin = abs(score[best]) * KEEP_DRAWN_POSE_BONUS + 1e-9
    if contact_sum[0] > 0 and score[0] <= score[best] + margin:
        best = 0
    transform = trimesh.geometry.align_vectors(downs[best], [0.0, 0.0, -1.0])
    return Pose(
        transform=np.asarray(transform, dtype=float),
        contact_mm2=float(contact_sum[best]),
        overhang_mm2=float(overhang_sum[best]),
        changed=best != 0,
    )


def place_on_bed(mesh: trimesh.Trimesh, bed_xy: tuple[float, float]) -> None:
    """Move `mesh` (in place) so it sits on z=0, centred on the bed."""
    lo, hi = mesh.bounds
    centre = (lo + hi) / 2.0
    mesh.apply_translation([bed_xy[0] / 2.0 - centre[0], bed_xy[1] / 2.0 - centre[1], -lo[2]])


def orient(mesh: trimesh.Trimesh) -> Pose:
    """Apply the chosen pose to `mesh` in place and return it."""
    pose = choose_pose(mesh)
    if pose.changed:
        mesh.apply_transform(pose.transform)
    return pose
