"""What a mesh will cost to slice, known before it is parsed: its triangles and memory.

trimesh builds every array at once, so a file is refused here, from its header or a streaming
count, before the loader hands it to trimesh. The costs per triangle and per byte were measured
(slicing/README.md, "Bounds") with a margin of about 1.4: a 900k-triangle binary STL peaked at
650 MB above the worker's own, the same mesh as 3MF at 1.65 GB, as ASCII STL at 1.7 GB.
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from slicing.errors import MeshError

CHUNK = 1 << 22  # 4 MB at a time: counting a 256 MB file costs one chunk of memory
PLY_HEADER_BYTES = 64 * 1024

# Resident memory while trimesh parses, by format: per triangle for the binary formats (their
# size is fixed by the count), per byte of text for the others (their vertices cost too).
LOAD_BYTES_PER_FACE = {"stl": 500, "ply": 300}
LOAD_BYTES_PER_BYTE = {"stl_ascii": 8, "obj": 8, "ply_ascii": 20, "3mf": 20}
# Checking, orienting, slicing and the thumbnail, on top of the loaded mesh.
PIPELINE_BYTES_PER_FACE = 600

_PLY_FACES = re.compile(rb"^element\s+face\s+(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class MeshCost:
    """What a mesh file will cost: `faces` is exact for binary STL and PLY, a lower bound for
    OBJ (a polygon is one or more triangles), 0 where only the parse can tell (3MF)."""

    file_type: str  # "stl", "stl_ascii", "obj", "ply", "ply_ascii", "3mf"
    faces: int
    memory_bytes: int


def estimate(
    path: Path, file_type: str, *, unzipped_bytes: int = 0, name: str | None = None
) -> MeshCost:
    """Count the triangles of `path` without building arrays and estimate the memory slicing
    it needs. `file_type` is the loader's ("stl" binary, "stl_ascii", "obj", "ply", "3mf");
    `unzipped_bytes` is what a 3MF's model files declare they unpack to; `name` is the file's
    name for messages (default: the stored file's)."""
    size = path.stat().st_size
    if file_type == "stl":
        faces = max(0, (size - 84) // 50)
    elif file_type == "stl_ascii":
        faces = count_pattern(path, b"endfacet", lower=True)
    elif file_type == "obj":
        faces = count_obj_faces(path)
    elif file_type == "ply":
        faces, binary = ply_header(path, name=name)
        file_type = "ply" if binary else "ply_ascii"
    else:
        faces = 0
    per_face = LOAD_BYTES_PER_FACE.get(file_type, 0)
    per_byte = LOAD_BYTES_PER_BYTE.get(file_type, 0)
    loaded = unzipped_bytes if file_type == "3mf" else size
    memory = faces * (per_face + PIPELINE_BYTES_PER_FACE) + loaded * per_byte
    if file_type == "3mf":
        # about 80 bytes of XML a triangle: the pipeline's share, from the declared size
        memory += unzipped_bytes // 80 * PIPELINE_BYTES_PER_FACE
    return MeshCost(file_type, faces, memory)


def count_pattern(path: Path, pattern: bytes, *, lower: bool = False) -> int:
    """How often `pattern` occurs in the file, read a chunk at a time (a match may straddle
    two chunks: the last len(pattern) - 1 bytes are carried over)."""
    count = 0
    carry = b""
    keep = len(pattern) - 1
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            block = carry + (chunk.lower() if lower else chunk)
            count += block.count(pattern)
            # a match inside the carried tail was counted already; it is shorter than one
            carry = block[-keep:] if keep else b""
    return count


def count_obj_faces(path: Path) -> int:
    """Lines starting with `f` (faces), a chunk at a time: each is at least one triangle."""
    count = 0
    first = True
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            block = carry + chunk
            if first and (block.startswith((b"f ", b"f\t"))):
                count += 1
            first = False
            cut = block.rfind(b"\n")
            whole, carry = (block[:cut], block[cut:]) if cut >= 0 else (b"", block)
            count += whole.count(b"\nf ") + whole.count(b"\nf\t")
    if carry.startswith((b"\nf ", b"\nf\t")):
        count += 1
    return count


def ply_header(path: Path, *, name: str | None = None) -> tuple[int, bool]:
    """A PLY's declared face count and whether it is binary, from its header."""
    with path.open("rb") as handle:
        head = handle.read(PLY_HEADER_BYTES)
    end = head.find(b"end_header")
    if not head.startswith(b"ply") or end < 0:
        raise MeshError(f"“{name or path.name}” is not a PLY file (no header).")
    header = head[:end].replace(b"\r", b"")
    match = _PLY_FACES.search(header)
    return (int(match.group(1)) if match else 0), b"format ascii" not in header


def model_bytes(infos: list[zipfile.ZipInfo]) -> int:
    """What a 3MF's model files declare they unpack to (the XML trimesh parses)."""
    return sum(info.file_size for info in infos if info.filename.lower().endswith(".model"))


class Deadline:
    """A slice's time budget, checked between its steps (and handed to PrusaSlicer)."""

    def __init__(self, seconds: float, *, name: str) -> None:
        self.seconds = seconds
        self.name = name
        self.until = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.until - time.monotonic()

    def check(self, step: str) -> None:
        if self.remaining() < 0:
            raise MeshError(
                f"“{self.name}” took more than {self.seconds:.0f} s to {step}: simplify the "
                "mesh (fewer triangles) or ask an operator to slice it."
            )
