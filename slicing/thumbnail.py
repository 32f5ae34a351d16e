"""A small shaded PNG of a mesh, for the job pages and the G-code thumbnail block.

Rendering is point splatting, not rasterising triangles one by one: points sampled evenly over
the surface are projected, shaded by their face normal and drawn far-to-near in one numpy
assignment, so a 200k-face mesh renders in tens of milliseconds.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np
import trimesh

BACKGROUND = (236, 240, 244)
COLOUR = np.array([232.0, 118.0, 38.0])  # a filament orange that reads well on screens
LIGHT = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])


def render_png(mesh: trimesh.Trimesh, width: int = 220, height: int = 124) -> bytes:
    """Look at `mesh` from the front right, above; return PNG bytes of width × height."""
    return render_pngs(mesh, [(width, height)])[0]


def render_pngs(mesh: trimesh.Trimesh, sizes: Sequence[tuple[int, int]]) -> list[bytes]:
    """`render_png` at every (width, height) of `sizes`, from one sampling of the surface
    (as many points as the largest image needs), turned and sorted by depth once.

    The view is a linear map, so the triangles' corners are turned (a few hundred points)
    and the samples drawn between the turned corners: no (n, 3) matrix product per sample,
    which numpy hands to a multi-threaded BLAS whose idle threads spin for longer than the
    product takes (15 ms of CPU for a 20 mm cube's 82k samples, against 2 ms this way)."""
    count = max(3 * max(w * h for w, h in sizes), 2_000)
    view = _view_rotation()
    corners = np.asarray(mesh.triangles, dtype=float).reshape(-1, 3)
    turned = _turn(corners, view).astype(np.float32).reshape(-1, 3, 3)
    xyz, face_index = _sample_triangles(turned, np.asarray(mesh.area_faces, dtype=float), count)
    normals = np.asarray(mesh.face_normals, dtype=float)
    facing_face = _turn(normals, view)[:, 2] > -0.2
    shade = 0.35 + 0.65 * np.clip(np.abs(_turn(normals, LIGHT[None, :])[:, 0]), 0.0, 1.0)
    colour_of = (shade[:, None] * COLOUR).clip(0, 255).astype(np.uint8)  # per face
    lo, hi = xyz.min(axis=1), xyz.max(axis=1)
    span = np.maximum(hi - lo, 1e-9)
    facing = facing_face[face_index]
    near, near_face = xyz[:, facing], face_index[facing]
    order = np.argsort(near[2])  # far first: the nearest point of a pixel is written last
    near, colours = near[:, order], colour_of[near_face[order]]
    images = []
    for width, height in sizes:
        scale = 0.9 * min(width / span[0], height / span[1])
        px = ((near[0] - (lo[0] + hi[0]) / 2) * scale + width / 2).astype(int)
        py = (height / 2 - (near[1] - (lo[1] + hi[1]) / 2) * scale).astype(int)
        inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
        image = np.empty((height, width, 3), dtype=np.uint8)
        image[:] = BACKGROUND
        image[py[inside], px[inside]] = colours[inside]
        drawn = np.zeros((height, width), dtype=bool)
        drawn[py[inside], px[inside]] = True
        _close_pinholes(image, drawn)
        images.append(png_bytes(image))
    return images


def _turn(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(n, k) `points` @ `rotation.T` for a (k, 3) rotation, as k sums of column products
    (no BLAS call: see render_pngs)."""
    return np.stack(
        [points[:, 0] * r[0] + points[:, 1] * r[1] + points[:, 2] * r[2] for r in rotation],
        axis=1,
    )


def _sample(mesh: trimesh.Trimesh, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` points spread evenly (by area, seeded) over the surface: (3, count) float32,
    a row per coordinate, and the face of each, (count,) int. trimesh.sample.sample_surface
    does the same on its tracked float64 arrays, at four times the cost."""
    triangles = np.asarray(mesh.triangles, dtype=np.float32)
    return _sample_triangles(triangles, np.asarray(mesh.area_faces, dtype=float), count)


def _sample_triangles(
    triangles: np.ndarray, areas: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """`count` points spread evenly by `areas` (seeded) over (f, 3, 3) float32 `triangles`,
    as (3, count): a row per coordinate, so the bounds and the depth sort after it read
    contiguous rows (the minimum of an (n, 3) array along its first axis cost 6 ms on 82k
    points, a row's a twentieth of that)."""
    rng = np.random.default_rng(7)
    total = np.cumsum(areas)
    face = np.minimum(np.searchsorted(total, rng.random(count) * total[-1]), len(total) - 1)
    u, v = rng.random((2, count), dtype=np.float32)
    fold = u + v > 1  # a point past the diagonal is folded back into the triangle
    u[fold], v[fold] = 1 - u[fold], 1 - v[fold]
    xyz = np.empty((3, count), dtype=np.float32)
    for k in range(3):
        a, b, c = (triangles[:, corner, k][face] for corner in range(3))
        xyz[k] = a + u * (b - a)
        xyz[k] += v * (c - a)
    return xyz, face


def _close_pinholes(image: np.ndarray, drawn: np.ndarray) -> None:
    """A pixel no point landed on, between drawn pixels left and right or above and below,
    is inside the part (the sampling's gaps, not its outline): it takes its left or upper
    neighbour's colour."""
    hole = ~drawn[1:-1, 1:-1]
    across = drawn[1:-1, :-2] & drawn[1:-1, 2:]
    down = drawn[:-2, 1:-1] & drawn[2:, 1:-1]
    inner = image[1:-1, 1:-1]
    inner[hole & across] = image[1:-1, :-2][hole & across]
    inner[hole & down & ~across] = image[:-2, 1:-1][hole & down & ~across]


def png_bytes(image: np.ndarray) -> bytes:
    """(h, w, 3) uint8 RGB as a PNG, each row "Sub"-filtered (the flat background packs
    well). Written here, not by Pillow: its first save imports every image plugin, a tenth
    of a second a slicing process paid for two thumbnails."""
    height, width, _ = image.shape
    row = image.reshape(height, 3 * width).astype(np.int16)
    sub = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    sub[:, 0] = 1  # filter type Sub: each byte less the same channel of the pixel to its left
    sub[:, 1:4] = row[:, :3]
    sub[:, 4:] = (row[:, 3:] - row[:, :-3]) % 256
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(sub.tobytes(), 6)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def _view_rotation() -> np.ndarray:
    """(3, 3) float: turn the bed 30° about Z, then tip it 60° towards the viewer."""
    turn = trimesh.transformations.rotation_matrix(np.radians(-30.0), (0, 0, 1))[:3, :3]
    tilt = trimesh.transformations.rotation_matrix(np.radians(-60.0), (1, 0, 0))[:3, :3]
    return np.asarray(tilt @ turn, dtype=float)
