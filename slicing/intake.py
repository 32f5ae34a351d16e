"""A cheap first look at an uploaded file: is it plausibly a mesh or G-code?

This runs in the web request, so it reads only the first kilobytes and the file size; the real
parse (with time and memory limits) happens in the slicing worker.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from slicing.errors import IntakeError

# the one list of formats: the web request's first look, the form and the worker's loader
MESH_SUFFIXES = frozenset({"stl", "obj", "3mf", "ply"})
GCODE_SUFFIXES = frozenset({"gcode", "gco", "g"})
SUFFIXES = MESH_SUFFIXES | GCODE_SUFFIXES


@dataclass(frozen=True)
class Sniffed:
    kind: str  # "mesh" or "gcode"
    suffix: str


def sniff(name: str, stream: BinaryIO, size: int) -> Sniffed:
    """Check name, size and first bytes. Raises IntakeError with a human message."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in SUFFIXES:
        allowed = ", ".join(sorted(s.upper() for s in SUFFIXES))
        raise IntakeError(f"“{name}” is not a mesh or G-code file (allowed: {allowed}).")
    if size == 0:
        raise IntakeError(f"“{name}” is empty.")
    stream.seek(0)
    head = stream.read(64 * 1024)
    stream.seek(0)
    if suffix in GCODE_SUFFIXES:
        _check_gcode(name, head)
        return Sniffed("gcode", suffix)
    if suffix == "stl":
        _check_stl(name, head, size)
    elif suffix == "3mf":
        _check_3mf(name, stream)
    elif suffix == "obj":
        _check_text_lines(name, head, ("v ", "f ", "vn ", "vt ", "o ", "g ", "#", "mtllib"))
    elif suffix == "ply" and not head.startswith(b"ply"):
        raise IntakeError(f"“{name}” is not a PLY file (it does not start with 'ply').")
    return Sniffed("mesh", suffix)


def _text(name: str, head: bytes) -> str:
    if b"\0" in head:
        raise IntakeError(f"“{name}” is a binary file, not text.")
    return head.decode("utf-8", errors="replace")


def _check_gcode(name: str, head: bytes) -> None:
    text = _text(name, head)
    for line in text.splitlines():
        word = line.split(";", 1)[0].strip().upper()
        if word[:1] in ("G", "M", "T") and word[1:2].isdigit():
            return
    raise IntakeError(f"“{name}” has no G-code commands in its first 64 KB.")


def _check_stl(name: str, head: bytes, size: int) -> None:
    if len(head) >= 84:
        (count,) = struct.unpack_from("<I", head, 80)
        if 84 + 50 * count == size:
            if count == 0:
                raise IntakeError(f"“{name}” is an STL file with no triangles.")
            return  # a binary STL whose size matches its triangle count
    if head.lstrip().lower().startswith(b"solid") and b"facet" in head.lower():
        return  # ASCII STL
    if len(head) < 84:
        raise IntakeError(f"“{name}” is too short to be an STL file.")
    (count,) = struct.unpack_from("<I", head, 80)
    raise IntakeError(
        f"“{name}” is not a valid STL: its header promises {count} triangles "
        f"({84 + 50 * count} bytes) but the file has {size} bytes."
    )


def _check_3mf(name: str, stream: BinaryIO) -> None:
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise IntakeError(f"“{name}” is not a 3MF file (a 3MF is a zip archive).") from None
    finally:
        stream.seek(0)
    if not any(n.lower().endswith(".model") for n in names):
        raise IntakeError(f"“{name}” is a zip file without a 3D model in it.")


def _check_text_lines(name: str, head: bytes, starts: tuple[str, ...]) -> None:
    text = _text(name, head)
    if not any(line.lstrip().startswith(starts) for line in text.splitlines()):
        raise IntakeError(f"“{name}” does not look like an OBJ file.")
