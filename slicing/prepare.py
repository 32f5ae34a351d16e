"""Turn an uploaded file into what the scheduler needs: time, material, size (and G-code).

This is the one entry point the farm's slicing task calls. A mesh gets a rough estimate from
its volume (marked as such); an uploaded G-code is analysed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from slicing.gcode_summary import summarise_gcode
from slicing.mesh import MeshError, load_mesh
from slicing.profile import PrintProfile


class PrepareError(ValueError):
    """The file cannot be printed; the message says why, for people."""


@dataclass(frozen=True)
class Prepared:
    seconds_per_copy: float
    grams_per_copy: float
    size_mm: tuple[float, float, float]
    estimate_source: str  # "mesh_volume", "gcode" or "sliced"
    gcode_path: Path | None = None
    nozzle_mm: float | None = None  # set when the G-code fixes it
    engine: str = ""
    notes: list[str] = field(default_factory=list)


# A rough, honest-about-itself model: a 0.4 mm nozzle at typical speeds lays about 6 mm^3 of
# plastic a second, averaged over perimeters, infill and travel.
ROUGH_FLOW_MM3_S = 6.0
ROUGH_OVERHEAD_S = 120.0  # heating and homing
SHELL_MM = 1.2  # perimeters + top/bottom skins, as a thickness


def prepare(path: Path, kind: str, profile: PrintProfile) -> Prepared:
    if kind == "gcode":
        summary = summarise_gcode(path)
        return Prepared(
            seconds_per_copy=summary.seconds,
            grams_per_copy=summary.filament_mm3 * profile.density_g_cm3 / 1000.0,
            size_mm=summary.size_mm,
            estimate_source="gcode",
            gcode_path=path,
            nozzle_mm=summary.nozzle_mm,
            engine=summary.slicer,
            notes=summary.notes,
        )
    try:
        mesh = load_mesh(path)
    except MeshError as exc:
        raise PrepareError(str(exc)) from exc
    shell = min(mesh.volume_mm3, mesh.area_mm2 * SHELL_MM)
    extruded = shell + profile.infill * max(0.0, mesh.volume_mm3 - shell)
    return Prepared(
        seconds_per_copy=ROUGH_OVERHEAD_S + extruded / ROUGH_FLOW_MM3_S,
        grams_per_copy=extruded * profile.density_g_cm3 / 1000.0,
        size_mm=mesh.size_mm,
        estimate_source="mesh_volume",
        notes=mesh.notes,
    )
