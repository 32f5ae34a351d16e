"""The plate's turntable: frames side by side, the part turning in place at one scale."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from slicing.thumbnail import BACKGROUND
from slicing.turntable import _frame_rotation, render_turntable, turntable_path

ANGLES = [i * np.pi / 2 for i in range(4)]


def frames(png: bytes, count: int, size: int) -> np.ndarray:
    """(count, size, size) bool: where each frame shows the part."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert pixels.shape == (size, count * size, 3)
    part = (pixels != BACKGROUND).any(axis=2)
    return np.stack([part[:, i * size : (i + 1) * size] for i in range(count)])


def test_a_long_box_turns_at_one_scale() -> None:
    box = trimesh.creation.box((10.0, 40.0, 20.0))
    shown = frames(render_turntable(box, size=160, frames=4), 4, 160)
    widths = np.array([float(np.ptp(np.flatnonzero(f.any(axis=0)))) for f in shown])
    corners = np.asarray(box.vertices)
    drawn = np.array([np.ptp(corners @ _frame_rotation(a).T, axis=0)[0] for a in ANGLES])
    # pixels per millimetre, the same in every frame: fitting each frame to its own outline
    # would zoom the box as it turns
    scale = widths / drawn
    assert scale.max() - scale.min() <= 0.05 * scale.max(), scale
    assert widths.max() < 160  # and every frame holds all of it


def test_the_part_has_no_gaps_between_its_points() -> None:
    box = trimesh.creation.box((30.0, 30.0, 30.0))
    (shown,) = frames(render_turntable(box, size=100, frames=1), 1, 100)
    rows = np.flatnonzero(shown.any(axis=1))
    cols = np.flatnonzero(shown.any(axis=0))
    inner = shown[rows[0] + 10 : rows[-1] - 10, cols[0] + 25 : cols[-1] - 25]
    assert inner.mean() > 0.99


def test_it_is_kept_beside_the_thumbnail() -> None:
    assert turntable_path(Path("/c/ab/abcdef.png")) == Path("/c/ab/abcdef.turntable.png")
