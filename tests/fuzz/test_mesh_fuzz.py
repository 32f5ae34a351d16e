"""Fuzzing the guarded mesh loader (STL ASCII and binary, OBJ, PLY, 3MF) and the checks after
it: any bytes are loaded or refused with MeshError, never another exception."""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from slicing.checks import check_and_repair
from slicing.errors import MeshError
from slicing.limits import SlicingLimits
from slicing.loader import load_trimesh
from tests.fuzz.strategies import FUZZ, numbers

LIMITS = SlicingLimits(max_faces=5_000)
BEDS = [(250.0, 210.0, 220.0)]


def load_or_refuse(data: bytes, suffix: str) -> None:
    """Load `data` as a `suffix` file and check it; only MeshError may come out."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz.{suffix}"
        path.write_bytes(data)
        try:
            mesh = load_trimesh(path, LIMITS, name=f"part.{suffix}")
            check_and_repair(mesh, build_volumes=BEDS)
        except MeshError as exc:
            assert "fuzz." not in str(exc)  # the user's name, not the stored one


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(["stl", "obj", "ply", "3mf"]))
def test_any_bytes_are_loaded_or_refused(data: bytes, suffix: str) -> None:
    load_or_refuse(data, suffix)


floats = st.floats(width=32, allow_nan=True, allow_infinity=True)


@FUZZ
@given(st.lists(st.lists(floats, min_size=12, max_size=12), min_size=1, max_size=40), st.booleans())
def test_a_binary_stl_of_any_numbers_is_loaded_or_refused(
    triangles: list[list[float]], lie: bool
) -> None:
    count = len(triangles) + (7 if lie else 0)
    body = b"".join(struct.pack("<12fH", *t, 0) for t in triangles)
    load_or_refuse(b"\0" * 80 + struct.pack("<I", count) + body, "stl")


@FUZZ
@given(st.lists(st.tuples(numbers, numbers, numbers), min_size=0, max_size=30), st.booleans())
def test_an_ascii_stl_of_any_numbers_is_loaded_or_refused(
    corners: list[tuple[str, str, str]], close: bool
) -> None:
    facets = []
    for i in range(0, len(corners) - 2, 3):
        vertices = "".join(f"vertex {x} {y} {z}\n" for x, y, z in corners[i : i + 3])
        facets.append(f"facet normal 0 0 1\nouter loop\n{vertices}endloop\nendfacet\n")
    text = "solid fuzz\n" + "".join(facets) + ("endsolid fuzz\n" if close else "")
    load_or_refuse(text.encode(), "stl")


@FUZZ
@given(
    st.lists(st.tuples(numbers, numbers, numbers), max_size=12),
    st.lists(st.lists(st.integers(-15, 15).map(str), min_size=1, max_size=5), max_size=12),
    st.lists(st.sampled_from(["vn 0 0 1", "vt 0 0", "o x", "g y", "usemtl m", "s 1", "l 1 2"])),
)
def test_an_obj_of_any_vertices_and_faces_is_loaded_or_refused(
    vertices: list[tuple[str, str, str]], faces: list[list[str]], other: list[str]
) -> None:
    lines = [f"v {x} {y} {z}" for x, y, z in vertices]
    lines += ["f " + " ".join(f) for f in faces] + other
    load_or_refuse("\n".join(lines).encode(), "obj")


@FUZZ
@given(
    st.integers(0, 20),
    st.integers(0, 20),
    st.sampled_from(["ascii", "binary_little_endian", "binary_big_endian"]),
    st.binary(max_size=600),
)
def test_a_ply_whose_header_says_anything_is_loaded_or_refused(
    vertex_count: int, face_count: int, encoding: str, body: bytes
) -> None:
    header = (
        f"ply\nformat {encoding} 1.0\nelement vertex {vertex_count}\n"
        "property float x\nproperty float y\nproperty float z\n"
        f"element face {face_count}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    load_or_refuse(header.encode() + body, "ply")


@FUZZ
@given(
    st.lists(st.tuples(numbers, numbers, numbers), max_size=10),
    st.lists(st.tuples(*[st.integers(-3, 12)] * 3), max_size=10),
    st.sampled_from(["3D/3dmodel.model", "3D/other.model", "model.xml"]),
    st.booleans(),
)
def test_a_3mf_of_any_model_is_loaded_or_refused(
    vertices: list[tuple[str, str, str]],
    triangles: list[tuple[int, int, int]],
    member: str,
    well_formed: bool,
) -> None:
    vs = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in vertices)
    ts = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in triangles)
    model = (
        '<?xml version="1.0"?><model unit="millimeter" '
        'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02"><resources>'
        f'<object id="1" type="model"><mesh><vertices>{vs}</vertices>'
        f"<triangles>{ts}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    )
    if not well_formed:
        model = model[: len(model) // 2]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, model)
    load_or_refuse(buffer.getvalue(), "3mf")


def test_the_fuzzers_reach_a_mesh_that_loads() -> None:
    # the strategies are not all refusals: a plain tetrahedron passes every check
    corners = np.array([[0, 0, 0], [20, 0, 0], [0, 20, 0], [0, 0, 20]], dtype=float)
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    lines = [f"v {x} {y} {z}" for x, y, z in corners] + [
        f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces
    ]
    load_or_refuse("\n".join(lines).encode(), "obj")
