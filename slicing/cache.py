"""The slice cache: one G-code per (mesh content, profile, engine, copies), on disk.

Two workers slicing the same key at once both do the work, and the later rename wins with an
identical result; that rare double work is cheaper than a lock shared between machines.
Entries are written file by file with atomic renames and the JSON record last, so a reader
that finds the record finds the G-code it points to.

The cache is bounded by its caller (`trim`): least recently used first, where a hit touches
the record. The caller says which G-codes must stay (the farm: those of work still to print)
and which files outlive an evicted entry (a finished job's thumbnail); a slicing package that
knows no jobs cannot decide that itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
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
        with contextlib.suppress(OSError):
            os.utime(record)  # used now: the last to be evicted
        return data

    def store(self, key: str, record: dict[str, Any]) -> None:
        target = self.path(key, ".json")
        write_atomically(target, json.dumps(record, indent=1, sort_keys=True).encode())

    def entries(self) -> Iterator[CacheEntry]:
        """Every entry (a record and the files named after its key), in no order."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not folder.is_dir() or len(folder.name) != 2:
                continue  # .tmp, the slices' own folders
            files: dict[str, list[os.DirEntry[str]]] = {}
            for item in os.scandir(folder):
                if item.is_file() and not item.name.startswith("."):
                    files.setdefault(item.name.split(".", 1)[0], []).append(item)
            for key, items in files.items():
                record = next((i for i in items if i.name == f"{key}.json"), None)
                if record is None:
                    continue  # a G-code whose record is not written yet (or was removed)
                yield CacheEntry(
                    key=key,
                    last_used=record.stat().st_mtime,
                    size_bytes=sum(i.stat().st_size for i in items),
                    paths=tuple(Path(i.path) for i in items),
                )

    def usage(self) -> CacheUsage:
        entries = list(self.entries())
        return CacheUsage(entries=len(entries), size_bytes=sum(e.size_bytes for e in entries))

    def trim(
        self,
        max_bytes: int,
        *,
        pinned: Collection[Path] = (),
        kept: Collection[Path] = (),
        min_idle_s: float = 3600.0,
        now: float | None = None,
    ) -> TrimResult:
        """Evict least recently used entries until the cache holds at most `max_bytes`.

        An entry with a file in `pinned` is never evicted (a G-code still to print); files in
        `kept` stay when their entry goes (a thumbnail a finished job still shows); an entry
        used in the last `min_idle_s` stays too (a slice that just hit it may not have
        recorded its job yet)."""
        now = time.time() if now is None else now
        pinned_set = {Path(p).resolve() for p in pinned}
        kept_set = {Path(p).resolve() for p in kept}
        entries = sorted(self.entries(), key=lambda e: e.last_used)
        total = sum(e.size_bytes for e in entries)
        evicted = freed = 0
        for entry in entries:
            if total <= max_bytes:
                break
            resolved = [p.resolve() for p in entry.paths]
            if now - entry.last_used < min_idle_s or any(p in pinned_set for p in resolved):
                continue
            # the record first: a reader that finds no record slices again
            for path in sorted(resolved, key=lambda p: p.suffix != ".json"):
                if path in kept_set:
                    continue
                size = path.stat().st_size if path.exists() else 0
                path.unlink(missing_ok=True)
                freed += size
                total -= size
            evicted += 1
        return TrimResult(evicted=evicted, freed_bytes=freed, size_bytes=total)


@dataclass(frozen=True)
class CacheEntry:
    key: str
    last_used: float  # the record's mtime: written when stored, touched on every hit
    size_bytes: int
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class CacheUsage:
    entries: int
    size_bytes: int


@dataclass(frozen=True)
class TrimResult:
    evicted: int
    freed_bytes: int
    size_bytes: int  # what the cache holds after the trim


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
