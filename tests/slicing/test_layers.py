from __future__ import annotations

import numpy as np
import pytest
import trimesh

from slicing.layers import layer_heights, slice_mesh


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
