"""The built-in slicer engine: an oriented, placed mesh to a G-code file.

It needs no external program, so it is the embedded default. Output is written to a temporary
file next to the target and renamed into place, so a crash never leaves half a G-code behind.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from slicing.budget import Deadline
from slicing.errors import MeshError
from slicing.gcode_parse import parse_gcode
from slicing.gcode_writer import ENGINE_NAME, header, render_body, thumbnail_block
from slicing.layers import layer_heights, slice_mesh
from slicing.motion import move_times
from slicing.parallel import Workers, available_cores
from slicing.settings import SliceSettings
from slicing.thumbnail import render_pngs
from slicing.toolpaths import plan_layers
from slicing.workdir import move_into_place

THUMBNAIL_SIZES = ((16, 16), (220, 124))


@dataclass(frozen=True)
class SliceResult:
    gcode_path: Path
    seconds: float
    filament_mm: float
    grams: float
    layers: int
    lines: int
    engine: str = ENGINE_NAME


def slice_to_gcode(
    mesh: trimesh.Trimesh,
    settings: SliceSettings,
    out_path: Path,
    *,
    copies: int = 1,
    work_dir: Path | None = None,
    deadline: Deadline | None = None,
    threads: int = 0,
) -> SliceResult:
    """Slice `mesh` (already on the bed: z from 0, inside the bed in XY) into `out_path`.

    The G-code is written in `work_dir` (the slice's folder; default: beside `out_path`) and
    renamed into place. `deadline` is checked between the steps. `threads`: how many
    threads cut and plan the layers (slicing.parallel); 0, the cores this process may use."""
    with Workers(threads or available_cores()) as workers:
        return _slice(mesh, settings, out_path, copies, work_dir, deadline, workers)


def _slice(
    mesh: trimesh.Trimesh,
    settings: SliceSettings,
    out_path: Path,
    copies: int,
    work_dir: Path | None,
    deadline: Deadline | None,
    workers: Workers,
) -> SliceResult:
    lo, hi = mesh.bounds
    if lo[0] < 0 or lo[1] < 0 or hi[0] > settings.bed_mm[0] or hi[1] > settings.bed_mm[1]:
        raise MeshError("the part does not fit on the bed where it was placed")
    if hi[2] > settings.max_height_mm:
        raise MeshError(
            f"the part is {hi[2]:.0f} mm tall; the printer reaches {settings.max_height_mm:.0f} mm"
        )
    tops = layer_heights(float(hi[2] - lo[2]), settings.first_layer_mm, settings.layer_height_mm)
    mids = tops - np.diff(np.r_[0.0, tops]) / 2.0 + float(lo[2])
    regions = slice_mesh(mesh, mids, workers)
    # both sizes from one sampling of the surface, beside the toolpaths (it needs only the
    # mesh): queued ahead of their chunks, which even out the threads' loads behind it
    thumbnails = workers.later(lambda: render_pngs(mesh, THUMBNAIL_SIZES))
    if deadline is not None:
        deadline.check("cut it into layers")
    # drop empty layers at the bottom or top (a part starting above z=0 would print in air)
    filled = [i for i, r in enumerate(regions) if not r.is_empty]
    if not filled:
        raise MeshError("slicing found no solid area in any layer: is the mesh closed?")
    regions = regions[: filled[-1] + 1]
    tops = tops[: filled[-1] + 1]
    layers = plan_layers(regions, tops, settings, workers)
    if deadline is not None:
        deadline.check("plan its toolpaths")
    # a sliver at the very top can be thinner than one line: no toolpath, no layer
    while layers and not layers[-1].paths:
        layers.pop()
    body = render_body(layers, settings)
    end_moves, _ = parse_gcode(settings.end(float(tops[-1])).splitlines(), body.moves.limits[0])
    seconds = float(sum(move_times(m).sum() for m in (body.start_moves, body.moves, end_moves)))
    area = math.pi * (settings.filament_diameter_mm / 2) ** 2
    grams = body.filament_mm * area * settings.density_g_cm3 / 1000.0
    lines = header(
        settings,
        seconds=seconds,
        filament_mm=body.filament_mm,
        layers=len(layers),
        copies=copies,
    )
    for png, (width, height) in zip(thumbnails(), THUMBNAIL_SIZES, strict=True):
        lines += thumbnail_block(png, width, height)
    _write_atomically(out_path, [lines, body.lines], work_dir)
    return SliceResult(
        gcode_path=out_path,
        seconds=seconds,
        filament_mm=body.filament_mm,
        grams=grams,
        layers=len(layers),
        lines=len(lines) + len(body.lines),
    )


def _write_atomically(path: Path, parts: list[list[str]], work_dir: Path | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = work_dir or path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for lines in parts:
                # in slices of 64k lines: one join of a million-line body costs 100 MB
                for start in range(0, len(lines), 65536):
                    handle.write("\n".join(lines[start : start + 65536]))
                    handle.write("\n")
        move_into_place(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
