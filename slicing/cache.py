"""The slice cache: one G-code per (mesh content, profile, engine, copies), on disk.

Two workers slicing the same key at once both do the work, and the later rename wins with an
identical result; that rare double work is cheaper than a lock shared between machines.
Entries are written file by file with atomic renames and the JSON record last, so a reader
that finds the record finds the G-code it points to.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1
CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def cache_key(*parts: str) -> str:
    blob = json.dumps([CACHE_FORMAT, *parts]).encode()
    return hashlib.sha256(blob).hexdigest()[:40]


def default_dir(upload: Path, configured: Path | None = None) -> Path:
    """`configured` (SLICING_CACHE_DIR), or a `gcode` folder beside the upload."""
    return configured if configured is not None else upload.parent / "gcode"


class SliceCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def load(self, key: str) -> dict[str, Any] | None:
        record = self.path(key, ".json")
        try:
            data: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        gcode = data.get("gcode_path")
        if gcode and not Path(gcode).exists():
            return None  # the G-code was cleaned up: slice again
        return data

    def store(self, key: str, record: dict[str, Any]) -> None:
        target = self.path(key, ".json")
        write_atomically(target, json.dumps(record, indent=1, sort_keys=True).encode())


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
