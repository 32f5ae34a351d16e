from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

MESHES = Path(__file__).resolve().parents[2] / ".." / "shared" / "meshes"


@pytest.fixture
def meshes_dir() -> Path:
    if not MESHES.is_dir():
        pytest.skip(f"the shared test meshes are not at {MESHES}")
    return MESHES


@pytest.fixture
def cube_stl(tmp_path: Path) -> Path:
    """A 20 mm cube as a binary STL."""
    path = tmp_path / "cube.stl"
    trimesh.creation.box(extents=(20.0, 20.0, 20.0)).export(path)
    return path
