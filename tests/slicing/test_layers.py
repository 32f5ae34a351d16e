from __future__ import annotations

import numpy as np
import pytest
import shapely
import trimesh

from slicing.layers import layer_heights, section_segments, slice_mesh
from slicing.rings import chain_layers


def _overlapping_boxes() -> trimesh.Trimesh:
    a = trimesh.creation.box(extents=(20.0, 20.0, 4.0))
    b = trimesh.creation.box(extents=(20.0, 20.0, 4.0))
    b.apply_translation((10.0, 0.0, 0.0))
    both = trimesh.util.concatenate([a, b])  # two shells that intersect, not merged
    assert isinstance(both, trimesh.Trimesh)
    return both


def test_overlapping_shells_slice_to_their_union_not_an_even_odd_hole() -> None:
    regions = slice_mesh(_overlapping_boxes(), np.array([0.0, 1.0]))
    assert regions[1].area == pytest.approx(30.0 * 20.0)


def test_a_tube_slices_to_a_ring_with_its_hole() -> None:
    tube = trimesh.creation.annulus(r_min=5.0, r_max=10.0, height=4.0, sections=128)
    (region,) = slice_mesh(tube, np.array([0.5]))
    assert region.area == pytest.approx(np.pi * (10**2 - 5**2), rel=0.01)
    assert len(region.interiors) == 1


def test_a_plane_through_a_row_of_vertices_still_closes_the_outline() -> None:
    box = trimesh.creation.box(extents=(10.0, 10.0, 4.0))
    box.apply_translation((0.0, 0.0, 2.0))  # vertices at z = 0 and z = 4 exactly
    mesh = trimesh.util.concatenate([box, box.copy().apply_translation((0.0, 0.0, 4.0))])
    assert isinstance(mesh, trimesh.Trimesh)
    (region,) = slice_mesh(mesh, np.array([4.0]))
    assert region.area == pytest.approx(100.0)


def test_layer_heights_start_with_the_first_layer() -> None:
    assert layer_heights(1.0, 0.3, 0.2) == pytest.approx([0.3, 0.5, 0.7, 0.9])


def _cut(mesh: object, z: float) -> tuple[np.ndarray, np.ndarray]:
    assert isinstance(mesh, trimesh.Trimesh)
    segments, plane = section_segments(
        np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces), np.array([z])
    )
    return np.round(segments, 5), plane


def test_chained_rings_nest_even_odd_as_build_area_does() -> None:
    # a tube, and in its hole a pillar: outer ring, hole, island in the hole
    tube = trimesh.creation.annulus(r_min=6.0, r_max=10.0, height=4.0, sections=48)
    pillar = trimesh.creation.cylinder(radius=3.0, height=4.0, sections=32)
    segments, plane = _cut(trimesh.util.concatenate([tube, pillar]), 1.0)
    chained = chain_layers(segments, plane, 1)[0]
    assert isinstance(chained, shapely.Geometry)
    expected = shapely.build_area(shapely.multilinestrings(segments))
    assert len(shapely.get_parts(chained)) == 2
    assert shapely.symmetric_difference(chained, expected).area < 1e-9
    assert chained.area == pytest.approx(np.pi * (10**2 - 6**2 + 3**2), rel=0.01)


def test_a_layer_whose_rings_cross_is_left_to_the_general_path() -> None:
    # two overlapping boxes: each ring chains, but they cross (even-odd is not the union)
    a = trimesh.creation.box(extents=(10.0, 10.0, 4.0))
    b = a.copy()
    b.apply_translation((5.0, 0.0, 0.0))
    segments, plane = _cut(trimesh.util.concatenate([a, b]), 0.5)
    assert chain_layers(segments, plane, 1) == [None]
