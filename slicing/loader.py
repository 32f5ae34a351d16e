"""Guarded mesh loading: size limits and format checks before trimesh ever parses a byte.

trimesh trusts its input: a 3MF is unzipped in memory and a binary STL is read by its header's
triangle count. A hostile or broken upload must be refused here, with a message for people,
before it can exhaust the worker's memory. The worker also runs this under the Celery task's
time limit, never in the web request.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import trimesh

from slicing import budget
from slicing.errors import MeshError
from slicing.intake import MESH_SUFFIXES
from slicing.limits import DEFAULT_LIMITS, MB, SlicingLimits


def load_trimesh(
    path: Path, limits: SlicingLimits = DEFAULT_LIMITS, *, name: str | None = None
) -> trimesh.Trimesh:
    """Load a mesh file as one Trimesh, refusing anything unsafe or broken with a MeshError.

    `name` is the file's name as the person who uploaded it knows it (messages say it);
    default: the stored file's name. Triangles and memory are counted before trimesh parses
    anything (slicing.budget), so what the worker cannot afford is refused up front.
    """
    name = name or path.name
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in MESH_SUFFIXES:
        raise MeshError(f"“{name}” is not a mesh file (expected STL, OBJ, 3MF or PLY).")
    size = path.stat().st_size
    if size == 0:
        raise MeshError(f"“{name}” is empty.")
    if size > limits.max_file_bytes:
        raise MeshError(
            f"“{name}” is {size / 1e6:.0f} MB; the limit is "
            f"{limits.max_file_bytes / 1e6:.0f} MB. Simplify the mesh or export it as 3MF."
        )
    file_type = suffix
    unzipped = 0
    if suffix == "stl":
        file_type = "stl_ascii" if _check_stl(path, size, name) else "stl"
    elif suffix == "3mf":
        unzipped = check_zip(path, limits, name=name)
    cost = budget.estimate(path, file_type, unzipped_bytes=unzipped, name=name)
    _check_cost(cost, name, limits)
    try:
        with path.open("rb") as handle:
            loaded = trimesh.load(handle, file_type=suffix, force="mesh", process=False)
    except (MeshError, MemoryError):  # out of memory is the budget's to report, not "unreadable"
        raise
    except Exception as exc:  # trimesh raises many unrelated types for bad input
        raise MeshError(f"“{name}” could not be read as {file_type.upper()}: {exc}") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        if suffix == "obj":
            raise MeshError(
                f"“{name}” has no faces: an OBJ with only vertices or lines is not a "
                "solid that can be printed."
            )
        raise MeshError(f"“{name}” contains no triangles.")
    _check_faces(len(loaded.faces), name, limits)
    faces = np.asarray(loaded.faces)
    if faces.min() < 0 or faces.max() >= len(loaded.vertices):
        raise MeshError(
            f"“{name}” is damaged: some of its triangles refer to corners (vertices) the file "
            "does not have. Export it again from the design program."
        )
    if not np.all(np.isfinite(loaded.vertices)):
        raise MeshError(f"“{name}” has vertices at infinite or undefined positions.")
    return loaded


def _check_faces(faces: int, name: str, limits: SlicingLimits) -> None:
    if faces > limits.max_faces:
        raise MeshError(
            f"“{name}” has {faces:,} triangles; the limit is {limits.max_faces:,}. "
            "Simplify the mesh (fewer triangles) before uploading."
        )


def _check_cost(cost: budget.MeshCost, name: str, limits: SlicingLimits) -> None:
    """Refuse, before parsing, a mesh with too many triangles or that needs too much memory."""
    _check_faces(cost.faces, name, limits)
    if limits.max_memory_bytes and cost.memory_bytes > limits.max_memory_bytes:
        advice = " or export it as binary STL" if cost.file_type != "stl" else ""
        raise MeshError(
            f"“{name}” would need about {cost.memory_bytes / MB:,.0f} MB of memory to slice; "
            f"the limit is {limits.max_memory_bytes / MB:,.0f} MB. Simplify the mesh (fewer "
            f"triangles){advice}."
        )


def _check_stl(path: Path, size: int, name: str) -> bool:
    """Check a binary STL's triangle count against its size. Returns True for ASCII STL."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if len(head) >= 84:
        (count,) = struct.unpack_from("<I", head, 80)
        expected = 84 + 50 * count
        if expected == size:
            if count == 0:
                raise MeshError(f"“{name}” is an STL file with no triangles.")
            return False
    if head.lstrip().lower().startswith(b"solid") and b"facet" in head.lower():
        return True
    if len(head) < 84:
        raise MeshError(f"“{name}” is too short ({size} bytes) to be an STL file.")
    whole, rest = divmod(size - 84, 50)
    if rest:
        raise MeshError(
            f"“{name}” is cut off: its header promises {count:,} triangles "
            f"({expected:,} bytes) but the file stops after {size:,} bytes, part-way through "
            f"triangle {whole + 1}. The upload or export was probably interrupted."
        )
    raise MeshError(
        f"“{name}” is not a valid STL: its header says it holds {count:,} triangles but "
        f"the file holds {whole:,}. Export it again from the design program."
    )


def check_zip(
    path: Path, limits: SlicingLimits = DEFAULT_LIMITS, *, name: str | None = None
) -> int:
    """Refuse a 3MF whose declared contents are too large or too compressed to unpack safely.

    The sizes come from the zip's central directory, read without decompressing anything.
    Returns what its model files declare they unpack to, in bytes.
    """
    name = name or path.name
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise MeshError(f"“{name}” is not a 3MF file (a 3MF is a zip archive).") from None
    if len(infos) > limits.max_zip_members:
        raise MeshError(f"“{name}” holds {len(infos):,} files; a 3MF needs a handful.")
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise MeshError(
            f"“{name}” would unpack to {total / 1e6:,.0f} MB (limit "
            f"{limits.max_unzipped_bytes / 1e6:,.0f} MB): refused as a possible zip bomb."
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > limits.max_zip_ratio:
            raise MeshError(
                f"“{name}” contains “{info.filename}”, compressed {ratio:,.0f} to 1: "
                "refused as a possible zip bomb."
            )
    if not any(info.filename.lower().endswith(".model") for info in infos):
        raise MeshError(f"“{name}” is a zip file without a 3D model in it.")
    return budget.model_bytes(infos)
