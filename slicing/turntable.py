"""A turntable of the oriented, packed plate: frames of it turning about Z, in one PNG strip,
for the job's page (a range input picks the frame; no 3-D library in the browser).

The frames are drawn the way slicing.thumbnail draws its picture (points sampled over the
surface, shaded by their normals, splatted far to near), but the points are sampled once and
turned for each frame, and every frame has the same scale and centre, from the plate's
bounding sphere: the part turns in place instead of zooming as its outline changes.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from slicing.thumbnail import BACKGROUND, COLOUR, LIGHT, _view_rotation

FRAMES = 8  # 45° apart
SIZE = 200  # pixels, each frame square
SUFFIX = ".turntable.png"


def turntable_path(thumbnail: Path) -> Path:
    """Where the turntable of a slice is kept: beside its thumbnail (`<key>.png`)."""
    return thumbnail.with_name(thumbnail.name.removesuffix(".png") + SUFFIX)


def render_turntable(mesh: trimesh.Trimesh, size: int = SIZE, frames: int = FRAMES) -> bytes:
    """PNG bytes of `frames` square frames of `size` pixels side by side: `mesh` seen from
    the front, above, turned 360 / frames degrees about Z from one frame to the next."""
    # Two points per pixel, each drawn 2 × 2 pixels: fewer to sort in each frame than the
    # thumbnail's three per pixel, and no gaps between them.
    points, face_index = trimesh.sample.sample_surface(mesh, max(2 * size * size, 2_000), seed=7)
    normals = mesh.face_normals[face_index]  # (n, 3)
    lo, hi = points.min(axis=0), points.max(axis=0)
    points = points - (lo + hi) / 2
    turns = [_frame_rotation(2 * np.pi * frame / frames) for frame in range(frames)]
    corners = np.array(list(itertools.product(*zip(lo - hi, hi - lo, strict=True)))) / 2
    reach = max(float(np.abs(corners @ r.T)[:, :2].max()) for r in turns)  # every frame's
    scale = 0.92 * (size - 1) / (2 * max(reach, 1e-9))
    shade = 0.35 + 0.65 * np.clip(np.abs(normals @ LIGHT), 0.0, 1.0)  # the light turns too
    colours = (shade[:, None] * COLOUR).clip(0, 255).astype(np.uint8)
    strip = np.empty((size, size * frames, 3), dtype=np.uint8)
    strip[:] = BACKGROUND
    for frame, rotation in enumerate(turns):
        p = points @ rotation.T  # x right, y up, z towards the viewer
        n = normals @ rotation.T
        px = (p[:, 0] * scale + size / 2).astype(int)
        py = (size / 2 - p[:, 1] * scale).astype(int)
        inside = (px >= 0) & (px < size - 1) & (py >= 0) & (py < size - 1) & (n[:, 2] > -0.2)
        order = np.flatnonzero(inside)[np.argsort(p[inside, 2])]  # far first: the near win
        # (n, 4) pixels per point, raveled point by point: the depth order holds
        ys = (py[order, None] + SPLAT[:, 0]).ravel()
        xs = (px[order, None] + SPLAT[:, 1] + frame * size).ravel()
        strip[ys, xs] = np.repeat(colours[order], len(SPLAT), axis=0)
    buffer = io.BytesIO()
    Image.fromarray(strip, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


SPLAT = np.array([(0, 0), (0, 1), (1, 0), (1, 1)])


def _frame_rotation(angle: float) -> np.ndarray:
    """(3, 3) float: turn the part `angle` radians about Z, then look as the thumbnail does."""
    turn = trimesh.transformations.rotation_matrix(angle, (0, 0, 1))[:3, :3]
    return np.asarray(_view_rotation() @ turn, dtype=float)
