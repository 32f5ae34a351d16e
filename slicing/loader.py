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

from slicing.errors import MeshError
from slicing.intake import MESH_SUFFIXES
from slicing.limits import DEFAULT_LIMITS, SlicingLimits


def load_trimesh(path: Path, limits: SlicingLimits = DEFAULT_LIMITS) -> trimesh.Trimesh:
    """Load a mesh file as one Trimesh, refusing anything unsafe or broken with a MeshError."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in MESH_SUFFIXES:
        raise MeshError(f"“{path.name}” is not a mesh file (expected STL, OBJ, 3MF or PLY).")
    size = path.stat().st_size
    if size == 0:
        raise MeshError(f"“{path.name}” is empty.")
    if size > limits.max_file_bytes:
        raise MeshError(
            f"“{path.name}” is {size / 1e6:.0f} MB; the limit is "
            f"{limits.max_file_bytes / 1e6:.0f} MB. Simplify the mesh or export it as 3MF."
        )
    file_type = suffix
    if suffix == "stl":
        file_type = "stl_ascii" if _check_stl(path, size, limits) else "stl"
    elif suffix == "3mf":
        check_zip(path, limits)
    try:
        with path.open("rb") as handle:
            loaded = trimesh.load(handle, file_type=suffix, force="mesh", process=False)
    except MeshError:
        raise
    except Exception as exc:  # trimesh raises many unrelated types for bad input
        raise MeshError(f"“{path.name}” could not be read as {file_type.upper()}: {exc}") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        if suffix == "obj":
            raise MeshError(
                f"“{path.name}” has no faces: an OBJ with only vertices or lines is not a "
                "solid that can be printed."
            )
        raise MeshError(f"“{path.name}” contains no triangles.")
    if len(loaded.faces) > limits.max_faces:
        raise MeshError(
            f"“{path.name}” has {len(loaded.faces):,} triangles; the limit is "
            f"{limits.max_faces:,}. Simplify the mesh before uploading."
        )
    if not np.all(np.isfinite(loaded.vertices)):
        raise MeshError(f"“{path.name}” has vertices at infinite or undefined positions.")
    return loaded


def _check_stl(path: Path, size: int, limits: SlicingLimits) -> bool:
    """Check a binary STL's triangle count against its size. Returns True for ASCII STL."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if len(head) >= 84:
        (count,) = struct.unpack_from("<I", head, 80)
        expected = 84 + 50 * count
        if expected == size:
            if count == 0:
                raise MeshError(f"“{path.name}” is an STL file with no triangles.")
            if count > limits.max_faces:
                raise MeshError(
                    f"“{path.name}” has {count:,} triangles; the limit is {limits.max_faces:,}."
                )
            return False
    if head.lstrip().lower().startswith(b"solid") and b"facet" in head.lower():
        return True
    if len(head) < 84:
        raise MeshError(f"“{path.name}” is too short ({size} bytes) to be an STL file.")
    whole, rest = divmod(size - 84, 50)
    if rest:
        raise MeshError(
            f"“{path.name}” is cut off: its header promises {count:,} triangles "
            f"({expected:,} bytes) but the file stops after {size:,} bytes, part-way through "
            f"triangle {whole + 1}. The upload or export was probably interrupted."
        )
    raise MeshError(
        f"“{path.name}” is not a valid STL: its header says it holds {count:,} triangles but "
        f"the file holds {whole:,}. Export it again from the design program."
    )


def check_zip(path: Path, limits: SlicingLimits = DEFAULT_LIMITS) -> None:
    """Refuse a 3MF whose declared contents are too large or too compressed to unpack safely.

    The sizes come from the zip's central directory, read without decompressing anything.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise MeshError(f"“{path.name}” is not a 3MF file (a 3MF is a zip archive).") from None
    if len(infos) > limits.max_zip_members:
        raise MeshError(f"“{path.name}” holds {len(infos):,} files; a 3MF needs a handful.")
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise MeshError(
            f"“{path.name}” would unpack to {total / 1e6:,.0f} MB (limit "
            f"{limits.max_unzipped_bytes / 1e6:,.0f} MB): refused as a possible zip bomb."
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > limits.max_zip_ratio:
            raise MeshError(
                f"“{path.name}” contains “{info.filename}”, compressed {ratio:,.0f} to 1: "
                "refused as a possible zip bomb."
            )
    if not any(info.filename.lower().endswith(".model") for info in infos):
        raise MeshError(f"“{path.name}” is a zip file without a 3D model in it.")
