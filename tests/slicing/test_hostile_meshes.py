"""Meshes built to hurt the worker: refused with a message, in bounded memory, leaving nothing.

Issue 10: a 190 MB triangle soup (millions of unconnected triangles) drove a slice to 9.1 GB,
ran for over 600 s and left 398 MB in /tmp. Peak memory is measured in a child process
(ru_maxrss of a fresh interpreter); no test here depends on timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from slicing import workdir
from slicing.errors import MeshError, PrepareError
from slicing.limits import MB, SlicingLimits
from slicing.loader import load_trimesh
from slicing.prepare import prepare
from slicing.profile import PrintProfile

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = PrintProfile(engine="builtin", layer_height_mm=0.3)
STL_RECORD = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])


def write_soup(path: Path, triangles: int, *, ascii: bool = False, chunk: int = 500_000) -> Path:
    """`triangles` random, unconnected triangles in a 100 mm cube, as binary or ASCII STL,
    written a chunk at a time so the test itself stays small."""
    rng = np.random.default_rng(10)
    with path.open("wb") as out:
        if ascii:
            out.write(b"solid soup\n")
        else:
            out.write(b"soup".ljust(80, b"\0") + np.uint32(triangles).tobytes())
        for start in range(0, triangles, chunk):
            n = min(chunk, triangles - start)
            corners = rng.uniform(0.0, 100.0, size=(n, 3, 3)).astype("<f4")
            if ascii:
                rows = "".join(
                    "facet normal 0 0 0\nouter loop\n"
                    + "".join(f"vertex {x:.4f} {y:.4f} {z:.4f}\n" for x, y, z in tri)
                    + "endloop\nendfacet\n"
                    for tri in corners.tolist()
                )
                out.write(rows.encode())
            else:
                records = np.zeros(n, dtype=STL_RECORD)
                records["v"] = corners
                out.write(records.tobytes())
        if ascii:
            out.write(b"endsolid soup\n")
    return path


def refusal_in_child(call: str) -> tuple[str, float]:
    """Run the slicing `call` (an expression) in a fresh interpreter: its refusal's message
    ("" when it was not refused) and the child's peak resident memory in MB, its VmHWM
    (getrusage's ru_maxrss survives exec and would report pytest's peak when higher)."""
    script = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from slicing.errors import SlicingError
        from slicing.limits import SlicingLimits
        from slicing.loader import load_trimesh
        from slicing.prepare import prepare
        from slicing.profile import PrintProfile
        from slicing.prusaslicer import peak_rss_mb
        try:
            {call}
            refused = ""
        except SlicingError as exc:
            refused = str(exc)
        print(json.dumps([refused, peak_rss_mb()]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    refused, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return str(refused), float(peak)


def test_it_refuses_a_three_million_triangle_soup_from_its_header_in_little_memory(
    tmp_path: Path,
) -> None:
    soup = write_soup(tmp_path / "soup.stl", 3_000_000)
    assert soup.stat().st_size == 84 + 50 * 3_000_000  # 150 MB, which the form accepts
    refused, peak_mb = refusal_in_child(f"load_trimesh(Path({str(soup)!r}), name='bracket.stl')")
    assert "“bracket.stl” has 3,000,000 triangles; the limit is 2,000,000" in refused
    # the interpreter with numpy and trimesh is about 110 MB; no triangle array was built
    assert peak_mb < 250


def test_it_counts_an_ascii_soups_triangles_while_streaming(tmp_path: Path) -> None:
    soup = write_soup(tmp_path / "soup.stl", 120_000, ascii=True)  # 26 MB of text
    refused, peak_mb = refusal_in_child(
        f"load_trimesh(Path({str(soup)!r}), SlicingLimits(max_faces=100_000))"
    )
    assert "has 120,000 triangles; the limit is 100,000" in refused
    assert peak_mb < 250


def test_it_refuses_a_soup_under_the_triangle_limit_before_repairing_it(tmp_path: Path) -> None:
    (tmp_path / "uploads").mkdir()
    soup = write_soup(tmp_path / "uploads" / "0f3c.stl", 200_000)
    gcode = tmp_path / "gcode"
    refused, peak_mb = refusal_in_child(
        f"prepare(Path({str(soup)!r}), 'mesh', PrintProfile(engine='builtin'), "
        f"out_dir=Path({str(gcode)!r}), name='bracket.stl')"
    )
    assert "not a closed surface" in refused and "triangle soup" in refused
    assert "distinct corners" in refused  # found before merging its vertices
    # merging 600,000 corners is the cost; closing 600,000 "holes" (9 GB) never starts
    assert peak_mb < 600
    assert [p for p in gcode.rglob("*") if p.is_file() or p.name.startswith("slice-")] == []


def test_it_refuses_a_mesh_that_needs_more_memory_than_the_slice_may_use(tmp_path: Path) -> None:
    path = tmp_path / "sphere.3mf"
    trimesh.creation.icosphere(subdivisions=5, radius=30.0).export(path)
    with pytest.raises(MeshError, match=r"“part.3mf” would need about [\d,]+ MB of memory"):
        load_trimesh(path, SlicingLimits(max_memory_bytes=10 * MB), name="part.3mf")
    load_trimesh(path)  # the default budget affords it


def test_it_counts_the_faces_a_ply_header_declares(tmp_path: Path) -> None:
    path = tmp_path / "sphere.ply"
    trimesh.creation.icosphere(subdivisions=3).export(path)
    with pytest.raises(MeshError, match="has 1,280 triangles; the limit is 1,000"):
        load_trimesh(path, SlicingLimits(max_faces=1000))


def test_it_counts_the_faces_of_an_obj_while_streaming(tmp_path: Path) -> None:
    path = tmp_path / "sphere.obj"
    trimesh.creation.icosphere(subdivisions=3).export(path)
    with pytest.raises(MeshError, match="has 1,280 triangles; the limit is 1,000"):
        load_trimesh(path, SlicingLimits(max_faces=1000))


def test_it_refuses_a_file_of_ten_thousand_separate_bodies(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    grid = np.stack(np.meshgrid(np.arange(101), np.arange(101)), axis=-1).reshape(-1, 2)
    offsets = np.c_[grid, np.zeros(len(grid))]
    dust = trimesh.Trimesh(
        vertices=(box.vertices[None] + offsets[:, None]).reshape(-1, 3),
        faces=(box.faces[None] + len(box.vertices) * np.arange(len(grid))[:, None, None]).reshape(
            -1, 3
        ),
        process=False,
    )
    path = tmp_path / "dust.stl"
    dust.export(path)
    with pytest.raises(PrepareError, match="10,201 separate bodies"):
        prepare(path, "mesh", BUILTIN, out_dir=tmp_path / "gcode")


def test_a_slice_past_its_time_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "0f3c.stl"
    trimesh.creation.box(extents=(10.0, 10.0, 10.0)).export(path)
    with pytest.raises(MeshError, match="“cube.stl” took more than 0 s to load it"):
        prepare(
            path, "mesh", BUILTIN, out_dir=tmp_path / "gcode",
            limits=SlicingLimits(max_seconds=0.0), name="cube.stl",
        )  # fmt: skip
    assert list((tmp_path / "gcode" / ".tmp").iterdir()) == []


def test_prusaslicers_files_are_in_the_slices_folder_and_removed(tmp_path: Path) -> None:
    if workdir.shutil.which("prusa-slicer") is None:
        pytest.skip("PrusaSlicer is not installed")
    path = tmp_path / "cube.stl"
    trimesh.creation.box(extents=(15.0, 15.0, 8.0)).export(path)
    tmp = tmp_path / "slices"
    prepared = prepare(
        path, "mesh", PrintProfile(engine="prusaslicer"), out_dir=tmp_path / "gcode",
        limits=SlicingLimits(temp_dir=tmp),
    )  # fmt: skip
    assert prepared.engine == "PrusaSlicer"
    assert list(tmp.iterdir()) == []


def test_a_killed_slices_folder_is_removed_by_the_next_slice(tmp_path: Path) -> None:
    root = tmp_path / "gcode" / ".tmp"
    root.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = workdir._host()
    gone = root / f"slice-{host}-{dead.pid}-abc"
    (gone / "prusa-x").mkdir(parents=True)
    (gone / "prusa-x" / "part.stl").write_bytes(b"\0" * 1000)
    ancient = root / "slice-otherhost-1-def"
    ancient.mkdir()
    young = root / f"slice-{host}-{dead.pid}-ghi"
    young.mkdir()
    old = time.time() - 2 * workdir.GRACE_S
    os.utime(gone, (old, old))
    os.utime(ancient, (old - 10_000, old - 10_000))
    removed = workdir.sweep(root, stale_after_s=5_000)
    assert sorted(removed) == sorted([gone, ancient])
    assert young.exists()  # it may be a slice that just started


def test_a_3mf_bomb_is_still_refused_from_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.3mf"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3D/3dmodel.model", b"\0" * 20_000_000)
    with pytest.raises(MeshError, match="“upload.3mf” contains .* zip bomb"):
        load_trimesh(path, name="upload.3mf")
