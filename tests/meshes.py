"""Where the shared test meshes (3DBenchy, the calibration cube, the Stanford bunny) are: read
by path, never copied into the repository.

They sit beside the checkout (`../shared/meshes`). A clone elsewhere (CI clones main into a
folder of its own) finds them through FARM_TEST_MESHES, or in the machine's shared folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CANDIDATES = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "meshes",
    Path(os.environ.get("FARM_TEST_MESHES", "/nonexistent")),
    Path("/work/shared/meshes"),
)


def shared_meshes() -> Path:
    """The folder of shared meshes; the test skips (fails in CI, for integration tests) when
    there is none."""
    for folder in CANDIDATES:
        if folder.is_dir():
            return folder.resolve()
    pytest.skip(f"the shared test meshes are not in any of {[str(c) for c in CANDIDATES]}")
