from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from slicing.loader import load_trimesh
from slicing.orient import orient, place_on_bed


def test_it_lays_a_tipped_wedge_on_its_broad_face() -> None:
    # a wedge standing on its narrow edge should be turned to lie on its large flat face
    corners = [(x, y, z) for x, z in [(0, 0), (40, 0), (0, 10)] for y in (0, 20)]
    wedge = trimesh.convex.convex_hull(np.array(corners, dtype=float))
    wedge.apply_transform(trimesh.transformations.rotation_matrix(np.pi * 0.6, (0, 1, 0)))
    pose = orient(wedge)
    assert pose.changed
    assert pose.contact_mm2 >= 800.0 - 1e-6  # either broad face, never the 200 mm² end
    assert pose.overhang_mm2 == pytest.approx(0.0, abs=1e-6)


def test_it_keeps_a_cube_as_drawn() -> None:
    cube = trimesh.creation.box(extents=(20.0, 20.0, 20.0))
    pose = orient(cube)
    assert not pose.changed
    assert pose.contact_mm2 == pytest.approx(400.0)


def test_it_places_the_part_on_the_bed_centre() -> None:
    cube = trimesh.creation.box(extents=(20.0, 20.0, 20.0))
    place_on_bed(cube, (250.0, 210.0))
    assert cube.bounds[0] == pytest.approx((115.0, 95.0, 0.0))


def test_it_stands_the_scanned_bunny_on_its_feet(meshes_dir: Path) -> None:
    # the scan is Y-up in metres, open at the base: it must end up standing, not on its side
    mesh = load_trimesh(meshes_dir / "stanford-bunny.obj")
    mesh.apply_scale(1000.0)
    pose = orient(mesh)
    up = pose.transform[:3, :3] @ np.array([0.0, 1.0, 0.0])
    assert up[2] > 0.95
    assert pose.contact_mm2 >= 100.0


def test_it_keeps_benchy_as_drawn(meshes_dir: Path) -> None:
    assert not orient(load_trimesh(meshes_dir / "3DBenchy.3mf")).changed
