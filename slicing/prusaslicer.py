"""PrusaSlicer as an external engine: a generated .ini from SliceSettings, `--export-gcode`.

The .ini mirrors the built-in engine's settings key for key (same widths, speeds, solid
layers, retraction, machine limits), so the two engines' outputs can be compared fairly.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import trimesh

from slicing.errors import EngineError
from slicing.external import ExternalResult, peak_rss_mb, run_engine_process
from slicing.gcode_parse import Limits
from slicing.limits import PRUSASLICER
from slicing.settings import MACHINE, SliceSettings
from slicing.workdir import move_into_place

TIMEOUT_S = 900
__all__ = ["ExternalResult", "peak_rss_mb", "slice_with_prusaslicer"]


def executable(program: str = PRUSASLICER) -> str | None:
    """The full path of `program` (SlicingLimits.prusaslicer), or None when not installed."""
    return shutil.which(program)


def ini_text(s: SliceSettings) -> str:
    w = s.line_width_mm
    width, depth = s.bed_mm
    fan = s.fan_percent
    values: dict[str, object] = {
        "bed_shape": f"0x0,{width:g}x0,{width:g}x{depth:g},0x{depth:g}",
        "max_print_height": s.max_height_mm,
        "nozzle_diameter": s.nozzle_mm,
        "filament_diameter": s.filament_diameter_mm,
        "filament_density": s.density_g_cm3,
        "filament_type": s.material,
        "temperature": s.nozzle_temp_c,
        "first_layer_temperature": s.nozzle_temp_c,
        "bed_temperature": s.bed_temp_c,
        "first_layer_bed_temperature": s.bed_temp_c,
        "layer_height": s.layer_height_mm,
        "first_layer_height": s.first_layer_mm,
        "perimeters": s.perimeters,
        "top_solid_layers": s.top_layers,
        "bottom_solid_layers": s.bottom_layers,
        "fill_density": f"{s.infill * 100:g}%",
        "fill_pattern": "rectilinear",
        "solid_infill_below_area": s.solid_below_mm2,
        "top_fill_pattern": "rectilinear",
        "bottom_fill_pattern": "rectilinear",
        "fill_angle": 45,
        "skirts": s.skirts,
        "skirt_distance": s.skirt_distance_mm,
        "skirt_height": 1,
        "brim_width": s.brim_mm,
        "perimeter_speed": s.perimeter_speed,
        "small_perimeter_speed": s.perimeter_speed,
        "external_perimeter_speed": s.external_perimeter_speed,
        "infill_speed": s.infill_speed,
        "solid_infill_speed": s.solid_infill_speed,
        "top_solid_infill_speed": s.solid_infill_speed,
        "gap_fill_speed": s.solid_infill_speed,
        "bridge_speed": s.bridge_speed,
        "overhangs": 1,  # overhang perimeters at the bridge speed, as the built-in engine's
        "first_layer_speed": s.first_layer_speed,
        "travel_speed": s.travel_speed,
        "retract_length": s.retract_mm,
        "retract_speed": s.retract_speed,
        "retract_before_travel": s.retract_min_travel_mm,
        "retract_layer_change": 1,
        "wipe": 0,
        "use_relative_e_distances": 1,
        "layer_gcode": "G92 E0",
        "gcode_flavor": "marlin2",
        "machine_limits_usage": "emit_to_gcode",
        **_machine_limits(MACHINE),
        "cooling": 1 if fan else 0,
        "fan_always_on": 1 if fan else 0,
        "min_fan_speed": fan,
        "max_fan_speed": fan,
        "disable_fan_first_layers": 1,
        "slowdown_below_layer_time": 0,
        "fan_below_layer_time": 0,
        **_supports(s),
        "avoid_crossing_perimeters": 0,
        "thumbnails": "",
        "start_gcode": s.start_gcode.format(bed=s.bed_temp_c, hotend=s.nozzle_temp_c),
        "end_gcode": s.end_gcode.format(lift="{max_layer_z + 10}", park_y=f"{depth - 10:.0f}"),
    }
    for key in (
        "extrusion_width", "first_layer_extrusion_width", "perimeter_extrusion_width",
        "external_perimeter_extrusion_width", "infill_extrusion_width",
        "solid_infill_extrusion_width", "top_infill_extrusion_width",
    ):  # fmt: skip
        values[key] = w
    return "".join(f"{k} = {_ini_value(v)}\n" for k, v in values.items())


def _supports(s: SliceSettings) -> dict[str, object]:
    """PrusaSlicer's support keys for the same supports as the built-in engine's."""
    if s.supports == "off":
        return {"support_material": 0}
    return {
        "support_material": 1,
        "support_material_auto": 1,
        "support_material_buildplate_only": 1 if s.supports == "bed" else 0,
        # its threshold is the slope from the horizontal; ours leans from the vertical
        "support_material_threshold": round(90 - s.support_angle_deg),
        "support_material_contact_distance": s.support_z_gap_layers * s.layer_height_mm,
        "support_material_xy_spacing": s.support_xy_gap_mm,
        "support_material_spacing": s.support_spacing_mm,
        "support_material_pattern": "rectilinear-grid",
        "support_material_interface_layers": s.support_interface_layers,
        "support_material_interface_spacing": s.support_interface_spacing_mm,
        "dont_support_bridges": 0,
    }


def _machine_limits(m: Limits) -> dict[str, str]:
    """PrusaSlicer's machine_max_* keys for the limits `m` (the start G-code's M201-M205)."""
    values = {
        **{f"machine_max_acceleration_{a}": v for a, v in zip("xyze", m.max_accel, strict=True)},
        "machine_max_acceleration_extruding": m.accel_print,
        "machine_max_acceleration_retracting": m.accel_retract,
        "machine_max_acceleration_travel": m.accel_travel,
        **{f"machine_max_feedrate_{a}": v for a, v in zip("xyze", m.max_feed, strict=True)},
        **{f"machine_max_jerk_{a}": v for a, v in zip("xyze", m.jerk, strict=True)},
    }
    return {key: f"{value:g}" for key, value in values.items()}


def _ini_value(value: object) -> str:
    return str(value).replace("\n", "\\n")


def slice_with_prusaslicer(
    mesh: trimesh.Trimesh,
    settings: SliceSettings,
    out_path: Path,
    *,
    copies: int = 1,
    program: str = PRUSASLICER,
    work_dir: Path | None = None,
    timeout_s: float = TIMEOUT_S,
    memory_bytes: int = 0,
) -> ExternalResult:
    """Slice the placed `mesh` with PrusaSlicer into `out_path` (written atomically).

    Its files (and its own temporary files) go in `work_dir`, the slice's folder
    (slicing.workdir); without one, in a temporary folder of its own. Either way they are
    removed when it ends."""
    exe = executable(program)
    if exe is None:
        raise EngineError("PrusaSlicer is not installed on this worker", permanent=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="prusa-", dir=work_dir) as tmp:
        work = Path(tmp)
        (work / "settings.ini").write_text(ini_text(settings), encoding="utf-8")
        mesh.export(work / "part.stl")
        part = work / "out.gcode"
        command = [exe, "--export-gcode", "--load", str(work / "settings.ini")]
        if copies > 1:
            command += ["--duplicate", str(copies)]
        else:
            command += ["--dont-arrange"]
        command += ["--output", str(part), str(work / "part.stl")]
        started = time.monotonic()
        code, output, peak = run_engine_process(
            command, tmp, name="PrusaSlicer", timeout_s=timeout_s, memory_bytes=memory_bytes
        )
        wall = time.monotonic() - started
        if code != 0 or not part.exists():
            tail = output.strip().splitlines()[-3:]
            raise EngineError(
                f"PrusaSlicer failed (exit {code}): {' / '.join(tail)}", permanent=True
            )
        (work / "part.stl").unlink()
        move_into_place(part, out_path)
    return ExternalResult(out_path, wall, peak)
