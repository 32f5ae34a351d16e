"""Each slice's own temporary folder: everything it writes on the way is in it, and it is removed
when the slice ends, however it ends.

PrusaSlicer's input and output and its own temporary files (TMPDIR points there), the built-in
engine's part-written G-code: all go in one `slice-<host>-<pid>-<random>` folder. A worker killed
outright (SIGKILL, out of memory) cannot remove its folder, so every new slice first removes the
folders of slices that are gone: a process of this host that no longer runs, or any folder older
than a slice may last.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PREFIX = "slice-"
GRACE_S = 60.0  # a folder younger than this is never swept: its process may just be starting


def default_root(cache_dir: Path, configured: Path | None = None) -> Path:
    """`configured` (SLICING_TEMP_DIR), or `.tmp` inside the cache: the same filesystem, so the
    finished G-code is renamed into the cache rather than copied."""
    return configured if configured is not None else cache_dir / ".tmp"


@contextlib.contextmanager
def slice_dir(root: Path, *, stale_after_s: float) -> Iterator[Path]:
    """A fresh folder under `root` for one slice, removed on the way out."""
    root.mkdir(parents=True, exist_ok=True)
    sweep(root, stale_after_s=stale_after_s)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{_host()}-{os.getpid()}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(root: Path, *, stale_after_s: float, now: float | None = None) -> list[Path]:
    """Remove the folders of slices that ended without removing theirs; returns them."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX) or not entry.is_dir():
            continue
        try:
            age = now - entry.stat().st_mtime
        except FileNotFoundError:
            continue  # its own slice removed it meanwhile
        if age < GRACE_S:
            continue
        if age > stale_after_s or _owner_gone(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def move_into_place(source: Path, target: Path) -> None:
    """Rename `source` to `target` (atomic); across filesystems, copy beside it, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    staged = target.with_name(f".{target.name}.part")
    try:
        shutil.copyfile(source, staged)
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def _host() -> str:
    return socket.gethostname().replace("-", "_")[:40] or "host"


def _owner_gone(name: str) -> bool:
    """Whether the folder's process (named in it) is of this host and no longer runs."""
    parts = name[len(PREFIX) :].split("-")
    if len(parts) < 3 or parts[0] != _host() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False
