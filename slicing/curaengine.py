"""CuraEngine as an external engine: the same SliceSettings as `-s key=value`, then the header
CuraEngine's command line leaves unfilled is written with the real time and filament.

CuraEngine needs Cura's machine definitions (`fdmprinter.def.json`, `fdmextruder.def.json`):
Debian's `cura` package carries them, and `.ci/run` unpacks them from that package into
`var/cura/definitions` without installing Cura. Without Cura's front end, CuraEngine does not
evaluate the formulas in those files (a line distance from a density, a width from the
nozzle): it takes each setting's default value. So every setting the result depends on is
given explicitly, derived here from SliceSettings the way the built-in engine and PrusaSlicer's
.ini derive theirs, so the three engines' outputs compare.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import trimesh

from slicing.analysis import analyse_file
from slicing.errors import EngineError
from slicing.external import ExternalResult, run_engine_process
from slicing.limits import CURAENGINE
from slicing.overhangs import overhang_angle_deg
from slicing.settings import MACHINE, SliceSettings, machine_limits_gcode
from slicing.workdir import move_into_place

TIMEOUT_S = 900
# Where the definitions are looked for when none is configured (SLICING_CURA_DEFINITIONS):
# an installed Cura, then what .ci/run unpacks beside the checkout.
DEFAULT_DEFINITION_DIRS = (
    Path("/usr/share/cura/resources/definitions"),
    Path(__file__).resolve().parents[1] / "var" / "cura" / "definitions",
)
PRINTER_DEFINITION = "fdmprinter.def.json"


def executable(program: str = CURAENGINE) -> str | None:
    return shutil.which(program)


def definitions_dir(configured: Path | None = None) -> Path | None:
    """The folder holding fdmprinter.def.json (and fdmextruder.def.json beside it), or None."""
    candidates = (configured,) if configured is not None else DEFAULT_DEFINITION_DIRS
    for folder in candidates:
        if folder is not None and (folder / PRINTER_DEFINITION).is_file():
            return folder
    return None


def installed(program: str = CURAENGINE, definitions: Path | None = None) -> str | None:
    """Why CuraEngine cannot be used here, or None when it can."""
    if executable(program) is None:
        return "CuraEngine is not installed (apt-get install cura-engine)"
    if definitions_dir(definitions) is None:
        return "Cura's machine definitions (fdmprinter.def.json) are not on this worker"
    return None


def setting_values(s: SliceSettings, *, part_height_mm: float) -> dict[str, str]:
    """Every CuraEngine setting the slice depends on, from `s`."""
    w = s.line_width_mm
    width, depth = s.bed_mm
    lift = min(s.max_height_mm, part_height_mm + 10)
    start = s.start_gcode.format(bed=s.bed_temp_c, hotend=s.nozzle_temp_c)
    end = s.end_gcode.format(lift=f"{lift:.1f}", park_y=f"{depth - 10:.0f}")
    # Cura's "lines" infill lays every line of a layer in one direction, alternating by layer,
    # as PrusaSlicer's rectilinear: lines `w / density` apart fill `density` of the area.
    infill_distance = s.spacing() / s.infill if s.infill > 0 else 0.0
    fan = s.fan_percent
    values: dict[str, object] = {
        "machine_width": width,
        "machine_depth": depth,
        "machine_height": s.max_height_mm,
        "machine_center_is_zero": "false",
        "machine_heated_bed": "true",
        "machine_gcode_flavor": "RepRap (Marlin/Sprinter)",
        "machine_nozzle_size": s.nozzle_mm,
        "material_diameter": s.filament_diameter_mm,
        # Our start G-code heats, sets the machine limits (as both other engines write them)
        # and primes; Cura must not heat before it.
        "machine_start_gcode": machine_limits_gcode(MACHINE) + "\n" + start,
        "machine_end_gcode": end,
        "material_print_temp_prepend": "false",
        "material_bed_temp_prepend": "false",
        "relative_extrusion": "true",
        "acceleration_enabled": "false",  # the firmware's limits, as the other engines
        "jerk_enabled": "false",
        **_machine_limits(),
        "layer_height": s.layer_height_mm,
        "layer_height_0": s.first_layer_mm,
        "line_width": w,
        "wall_line_width": w,
        "wall_line_width_0": w,
        "wall_line_width_x": w,
        "skin_line_width": w,
        "infill_line_width": w,
        "skirt_brim_line_width": w,
        "initial_layer_line_width_factor": 100,
        "wall_line_count": s.perimeters,
        "top_layers": s.top_layers,
        "bottom_layers": s.bottom_layers,
        "initial_bottom_layers": s.bottom_layers,
        "infill_sparse_density": f"{s.infill * 100:g}",
        "infill_pattern": "lines",
        "infill_line_distance": f"{infill_distance:.4f}",
        "top_bottom_pattern": "lines",
        "top_bottom_pattern_0": "lines",
        "fill_outline_gaps": "true",  # thin walls: a single line where two do not fit
        "fill_perimeter_gaps": "everywhere",
        "speed_print": s.perimeter_speed,
        "speed_wall": s.perimeter_speed,
        "speed_wall_0": s.external_perimeter_speed,
        "speed_wall_x": s.perimeter_speed,
        "speed_infill": s.infill_speed,
        "speed_topbottom": s.solid_infill_speed,
        "speed_roofing": s.solid_infill_speed,
        "speed_layer_0": s.first_layer_speed,
        "speed_print_layer_0": s.first_layer_speed,
        "speed_travel_layer_0": s.travel_speed,
        "skirt_brim_speed": s.first_layer_speed,
        "speed_slowdown_layers": 1,
        "speed_travel": s.travel_speed,
        "bridge_settings_enabled": "true",
        "bridge_wall_speed": s.bridge_speed,
        "bridge_skin_speed": s.bridge_speed,
        # overhang walls slower, past the same lean as the built-in engine's (slicing.overhangs)
        "wall_overhang_angle": f"{overhang_angle_deg(s):.1f}",
        "wall_overhang_speed_factor": f"{100 * s.bridge_speed / s.external_perimeter_speed:.0f}",
        "small_feature_speed_factor": 100,  # PrusaSlicer's small perimeters: same speed
        "small_feature_speed_factor_0": 100,
        "retraction_enable": "true",
        "retraction_amount": s.retract_mm,
        "retraction_speed": s.retract_speed,
        "retraction_retract_speed": s.retract_speed,
        "retraction_prime_speed": s.retract_speed,
        "retraction_min_travel": s.retract_min_travel_mm,
        "retraction_combing": "off",  # as PrusaSlicer with avoid_crossing_perimeters off
        "retraction_hop_enabled": "false",
        "retract_at_layer_change": "true",
        "wall_0_wipe_dist": 0,
        "infill_wipe_dist": 0,
        "material_print_temperature": s.nozzle_temp_c,
        "material_print_temperature_layer_0": s.nozzle_temp_c,
        "material_initial_print_temperature": s.nozzle_temp_c,
        "material_final_print_temperature": s.nozzle_temp_c,
        "material_bed_temperature": s.bed_temp_c,
        "material_bed_temperature_layer_0": s.bed_temp_c,
        "cool_fan_enabled": "true" if fan else "false",
        "cool_fan_speed": fan,
        "cool_fan_speed_min": fan,
        "cool_fan_speed_max": fan,
        "cool_fan_speed_0": 0,
        "cool_fan_full_layer": 2,
        "cool_min_layer_time": 0,
        **_supports(s),
        "adhesion_type": "brim" if s.brim_mm > 0 else "skirt",
        "brim_width": s.brim_mm,
        "brim_line_count": max(1, math.ceil(s.brim_mm / w)) if s.brim_mm > 0 else 0,
        "skirt_line_count": s.skirts,
        "skirt_gap": s.skirt_distance_mm,
        "skirt_brim_minimal_length": 0,
        "center_object": "false",
        "magic_spiralize": "false",
    }
    return {key: _text(value) for key, value in values.items()}


def _supports(s: SliceSettings) -> dict[str, object]:
    """CuraEngine's support keys for the same supports as the built-in engine's."""
    if s.supports == "off":
        return {"support_enable": "false"}
    h = s.layer_height_mm
    return {
        "support_enable": "true",
        "support_type": "buildplate" if s.supports == "bed" else "everywhere",
        "support_angle": s.support_angle_deg,
        "support_pattern": "grid",
        "support_line_distance": s.support_spacing_mm,
        "support_z_distance": s.support_z_gap_layers * h,
        "support_top_distance": s.support_z_gap_layers * h,
        "support_bottom_distance": s.support_z_gap_layers * h,
        "support_xy_distance": s.support_xy_gap_mm,
        "support_interface_enable": "true",
        "support_roof_enable": "true",
        "support_interface_height": s.support_interface_layers * h,
        "support_roof_height": s.support_interface_layers * h,
        "support_roof_line_distance": s.support_interface_spacing_mm,
        "support_line_width": s.line_width_mm,
        "support_roof_line_width": s.line_width_mm,
        "speed_support": s.infill_speed,
        "speed_support_infill": s.infill_speed,
        "speed_support_roof": s.solid_infill_speed,
    }


def _machine_limits() -> dict[str, object]:
    m = MACHINE
    values: dict[str, object] = {
        **{f"machine_max_acceleration_{a}": v for a, v in zip("xyze", m.max_accel, strict=True)},
        **{f"machine_max_feedrate_{a}": v for a, v in zip("xyze", m.max_feed, strict=True)},
        "machine_acceleration": m.accel_print,
        "machine_max_jerk_xy": m.jerk[0],
        "machine_max_jerk_z": m.jerk[2],
        "machine_max_jerk_e": m.jerk[3],
    }
    return values


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def command_line(
    exe: str, definitions: Path, values: dict[str, str], stl: Path, out: Path
) -> list[str]:
    """`CuraEngine slice`: the printer definition, the settings for the machine and again for
    extruder 0 (the per-extruder settings, speeds and temperatures among them, are read from
    the extruder), then the part on that extruder."""
    pairs = [arg for key, value in values.items() for arg in ("-s", f"{key}={value}")]
    return [
        exe, "slice", "-j", str(definitions / PRINTER_DEFINITION), *pairs,
        "-e0", *pairs, "-l", str(stl), "-o", str(out),
    ]  # fmt: skip


def slice_with_curaengine(
    mesh: trimesh.Trimesh,
    settings: SliceSettings,
    out_path: Path,
    *,
    program: str = CURAENGINE,
    definitions: Path | None = None,
    work_dir: Path | None = None,
    timeout_s: float = TIMEOUT_S,
    memory_bytes: int = 0,
) -> ExternalResult:
    """Slice the placed `mesh` (bed coordinates, as `place_on_bed` leaves it) with CuraEngine
    into `out_path` (written atomically), its header filled with the real time and filament."""
    exe = executable(program)
    folder = definitions_dir(definitions)
    if exe is None or folder is None:
        raise EngineError(installed(program, definitions) or "CuraEngine", permanent=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cura-", dir=work_dir) as tmp:
        work = Path(tmp)
        # CuraEngine puts a part's origin at the bed's centre (machine_center_is_zero false):
        # hand it the part in centre coordinates, and it lands where the plate put it.
        placed = mesh.copy()
        width, depth = settings.bed_mm
        placed.apply_translation((-width / 2, -depth / 2, 0))
        placed.export(work / "part.stl")
        part = work / "out.gcode"
        height = float(mesh.bounds[1][2])
        values = setting_values(settings, part_height_mm=height)
        command = command_line(exe, folder, values, work / "part.stl", part)
        started = time.monotonic()
        code, output, peak = run_engine_process(
            command, tmp, name="CuraEngine", timeout_s=timeout_s, memory_bytes=memory_bytes
        )
        wall = time.monotonic() - started
        if code != 0 or not part.exists() or part.stat().st_size == 0:
            tail = [line[:200] for line in output.strip().splitlines()[-3:]]
            raise EngineError(
                f"CuraEngine failed (exit {code}): {' / '.join(tail)}", permanent=True
            )
        fill_header(part, filament_diameter_mm=settings.filament_diameter_mm)
        move_into_place(part, out_path)
    return ExternalResult(out_path, wall, peak)


def fill_header(path: Path, *, filament_diameter_mm: float) -> None:
    """Write the real values into the header CuraEngine's command line leaves as placeholders
    (`;TIME:6666`, `;Filament used: 0m`, `;MINX:2.14748e+06` ...): what OctoPrint and the
    farm read from it. The values are our analysis of the file (motion model, extrusion)."""
    analysis = analyse_file(path, filament_diameter_mm=filament_diameter_mm)
    lo, hi = analysis.bbox_min, analysis.bbox_max
    real = {
        ";TIME:": f"{analysis.seconds:.0f}",
        ";Filament used:": f" {analysis.filament_mm / 1000:.5f}m",
        ";MINX:": f"{lo[0]:.3f}",
        ";MINY:": f"{lo[1]:.3f}",
        ";MINZ:": f"{lo[2]:.3f}",
        ";MAXX:": f"{hi[0]:.3f}",
        ";MAXY:": f"{hi[1]:.3f}",
        ";MAXZ:": f"{hi[2]:.3f}",
    }
    fixed = path.with_name(path.name + ".header")
    with path.open("rb") as source, fixed.open("wb") as target:
        for _ in range(40):  # the header is the first lines; the rest is copied as it is
            line = source.readline()
            if not line:
                break
            text = line.decode(errors="replace")
            for prefix, value in real.items():
                if text.startswith(prefix):
                    line = f"{prefix}{value}\n".encode()
                    break
            target.write(line)
        shutil.copyfileobj(source, target, 1 << 20)
    os.replace(fixed, path)
