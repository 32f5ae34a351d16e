from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
import trimesh

from slicing.checks import check_and_repair
from slicing.errors import MeshError
from slicing.limits import SlicingLimits
from slicing.loader import load_trimesh

BED = (250.0, 210.0, 220.0)


def test_it_loads_the_calibration_cube(meshes_dir: Path) -> None:
    mesh = load_trimesh(meshes_dir / "XYZ-Cube.stl")
    checked = check_and_repair(mesh, build_volumes=[BED])
    assert checked.watertight
    assert checked.bodies == 1
    assert checked.mesh.extents == pytest.approx((20, 20, 20))


def test_it_refuses_a_truncated_stl(cube_stl: Path) -> None:
    data = cube_stl.read_bytes()
    cube_stl.write_bytes(data[: len(data) - 30])
    with pytest.raises(MeshError, match="cut off"):
        load_trimesh(cube_stl)


def test_it_refuses_an_stl_whose_header_lies_about_its_triangle_count(cube_stl: Path) -> None:
    data = bytearray(cube_stl.read_bytes())
    struct.pack_into("<I", data, 80, 1000)
    cube_stl.write_bytes(bytes(data))
    with pytest.raises(MeshError, match="says it holds 1,000 triangles but the file holds 12"):
        load_trimesh(cube_stl)


def _3mf(path: Path, model: bytes, compression: int) -> Path:
    """A 3MF (a zip) at `path` holding one model file of the bytes `model`."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("3D/3dmodel.model", model)
    return path


def test_it_refuses_a_3mf_zip_bomb_before_unpacking(tmp_path: Path) -> None:
    bomb = _3mf(tmp_path / "bomb.3mf", b"\0" * 50_000_000, zipfile.ZIP_DEFLATED)
    with pytest.raises(MeshError, match="zip bomb"):
        load_trimesh(bomb)


def test_it_refuses_a_3mf_that_would_unpack_beyond_the_limit(tmp_path: Path) -> None:
    big = _3mf(tmp_path / "big.3mf", b"<model/>" * 200_000, zipfile.ZIP_STORED)
    with pytest.raises(MeshError, match="would unpack to"):
        load_trimesh(big, SlicingLimits(max_unzipped_bytes=1_000_000))


def test_it_refuses_an_obj_with_no_faces(tmp_path: Path) -> None:
    obj = tmp_path / "points.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    with pytest.raises(MeshError, match="has no faces"):
        load_trimesh(obj)


def test_it_refuses_a_file_over_the_size_limit(cube_stl: Path) -> None:
    with pytest.raises(MeshError, match="the limit is"):
        load_trimesh(cube_stl, SlicingLimits(max_file_bytes=100))


def test_it_refuses_a_mesh_two_metres_long(tmp_path: Path) -> None:
    path = tmp_path / "beam.stl"
    trimesh.creation.box(extents=(2000.0, 20.0, 20.0)).export(path)
    mesh = load_trimesh(path)
    with pytest.raises(MeshError, match="does not fit any printer"):
        check_and_repair(mesh, build_volumes=[BED, (300.0, 300.0, 300.0)])


def test_it_accepts_a_long_part_that_fits_lying_diagonally_or_on_its_side(tmp_path: Path) -> None:
    path = tmp_path / "rod.stl"
    trimesh.creation.box(extents=(20.0, 20.0, 240.0)).export(path)
    checked = check_and_repair(load_trimesh(path), build_volumes=[BED])
    assert checked.watertight


def test_it_offers_to_scale_a_mesh_drawn_in_metres(meshes_dir: Path) -> None:
    checked = check_and_repair(load_trimesh(meshes_dir / "stanford-bunny.obj"), build_volumes=[BED])
    assert checked.scale_hint == 1000.0
    assert any("drawn in metres" in note for note in checked.notes)
    assert any("open edges" in note for note in checked.notes)


def test_it_flips_an_inside_out_mesh(tmp_path: Path) -> None:
    mesh = trimesh.creation.box(extents=(20.0, 20.0, 20.0))
    mesh.invert()
    checked = check_and_repair(mesh, build_volumes=[BED])
    assert checked.mesh.volume > 0
    assert any("inside-out" in note for note in checked.notes)


def test_it_closes_a_small_hole_and_says_so() -> None:
    mesh = trimesh.creation.box(extents=(20.0, 20.0, 20.0))
    mesh.update_faces(list(range(1, len(mesh.faces))))
    checked = check_and_repair(mesh, build_volumes=[BED])
    assert checked.watertight
    assert any("were closed" in note for note in checked.notes)


def test_it_counts_separate_bodies() -> None:
    a = trimesh.creation.box(extents=(10.0, 10.0, 10.0))
    b = trimesh.creation.box(extents=(10.0, 10.0, 10.0))
    b.apply_translation((30.0, 0.0, 0.0))
    both = trimesh.util.concatenate([a, b])
    assert isinstance(both, trimesh.Trimesh)
    checked = check_and_repair(both, build_volumes=[BED])
    assert checked.bodies == 2


def test_it_refuses_a_part_thinner_than_a_line() -> None:
    sheet = trimesh.creation.box(extents=(30.0, 30.0, 0.1))
    with pytest.raises(MeshError, match="thinner than one line"):
        check_and_repair(sheet, build_volumes=[BED])
