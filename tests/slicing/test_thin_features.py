"""Features narrower than the nozzle, found on the part as it prints (slicing.thin_features):
a fin thinner than the nozzle is found with about its width; walls a nozzle wide or more, the
real test meshes and sharp-cornered parts are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from slicing.sample_parts import fin_part, small_gear, thin_tube
from slicing.thin_features import thin_features


def on_bed(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    mesh = mesh.copy()
    mesh.apply_translation(-mesh.bounds[0])
    return mesh


def fin(thickness: float) -> trimesh.Trimesh:
    return on_bed(fin_part(thickness))


@pytest.mark.parametrize("thickness", [0.15, 0.25, 0.35])
def test_a_fin_thinner_than_the_nozzle_is_found_with_its_width(thickness: float) -> None:
    found = thin_features(fin(thickness), 0.4)
    assert found is not None
    assert found.thinnest_mm == pytest.approx(thickness, abs=0.02)
    # the fin stands on 10 of the part's 12 mm
    assert found.layers / found.sampled == pytest.approx(10 / 12, abs=0.05)


@pytest.mark.parametrize("thickness", [0.45, 0.8, 1.2])
def test_a_wall_as_wide_as_the_nozzle_or_more_is_not(thickness: float) -> None:
    assert thin_features(fin(thickness), 0.4) is None


def test_a_finer_nozzle_prints_what_a_coarse_one_cannot() -> None:
    assert thin_features(fin(0.5), 0.6) is not None
    assert thin_features(fin(0.5), 0.4) is None


def test_sharp_corners_and_thin_walled_tubes_are_not_thin() -> None:
    assert thin_features(on_bed(small_gear()), 0.4) is None
    assert thin_features(on_bed(thin_tube(wall=1.2)), 0.4) is None
    assert thin_features(on_bed(trimesh.creation.box((20.0, 20.0, 20.0))), 0.4) is None


@pytest.mark.parametrize("name", ["3DBenchy.3mf", "XYZ-Cube.stl", "stanford-bunny.obj"])
def test_the_real_test_meshes_have_no_feature_thinner_than_the_nozzle(
    meshes_dir: Path, name: str
) -> None:
    mesh = trimesh.load(meshes_dir / name, force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    assert thin_features(on_bed(mesh), 0.4) is None
