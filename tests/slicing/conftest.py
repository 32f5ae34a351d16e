from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from tests.meshes import shared_meshes


@pytest.fixture
def meshes_dir() -> Path:
    return shared_meshes()


@pytest.fixture
def cube_stl(tmp_path: Path) -> Path:
    """A 20 mm cube as a binary STL."""
    path = tmp_path / "cube.stl"
    trimesh.creation.box(extents=(20.0, 20.0, 20.0)).export(path)
    return path
