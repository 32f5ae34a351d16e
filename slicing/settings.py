"""Slicer settings derived from a print profile, shared by every engine.

The built-in engine and the PrusaSlicer .ini are generated from the same SliceSettings, so a
comparison between engines compares the engines and not two different sets of settings.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace

from slicing.gcode_parse import Limits
from slicing.profile import DEFAULT_BUILD_MM, PrintProfile

# The farm printers' Marlin limits: the motion model assumes them for a file that sets none, and
# both engines write them into the start G-code, so that the firmware and our estimate agree.
MACHINE = Limits()


def machine_limits_gcode(m: Limits) -> str:
    """M201/M203/M204/M205 lines that set the firmware to `m`."""
    return (
        "M201 X{:g} Y{:g} Z{:g} E{:g} ; max acceleration mm/s^2\n"
        "M203 X{:g} Y{:g} Z{:g} E{:g} ; max feed rate mm/s\n"
        "M204 P{:g} R{:g} T{:g} ; print, retract, travel acceleration\n"
        "M205 X{:.2f} Y{:.2f} Z{:.2f} E{:.2f} ; jerk mm/s"
    ).format(*m.max_accel, *m.max_feed, m.accel_print, m.accel_retract, m.accel_travel, *m.jerk)


MACHINE_LIMITS = machine_limits_gcode(MACHINE)

DEFAULT_START_GCODE = """M140 S{bed}
M104 S{hotend}
G28 ; home all axes
M190 S{bed}
M109 S{hotend}
G90
M83 ; relative extrusion
G92 E0
G1 Z0.2 F720
G1 X5 Y5 F6000
G1 X5 Y60 E6 F900 ; prime line
G1 X5.5 Y60 F900
G1 X5.5 Y10 E5 F900
G1 E-0.8 F2100"""

DEFAULT_END_GCODE = """M104 S0
M140 S0
M107
G1 Z{lift} F720
G1 X5 Y{park_y} F6000
M84"""


@dataclass(frozen=True)
class SliceSettings:
    # the defaults are those of SliceSettings.from_profile(PrintProfile())
    nozzle_mm: float = PrintProfile.nozzle_mm
    line_width_mm: float = 0.45
    layer_height_mm: float = PrintProfile.layer_height_mm
    first_layer_mm: float = 0.2
    perimeters: int = 2
    top_layers: int = 5
    bottom_layers: int = 4
    infill: float = PrintProfile.infill
    solid_below_mm2: float = 70.0  # sparse islands smaller than this are filled solid
    skirts: int = 1
    skirt_distance_mm: float = 3.0
    brim_mm: float = PrintProfile.brim_mm  # brim width around the first layer; 0 for none
    perimeter_speed: float = 45.0  # mm/s
    external_perimeter_speed: float = 35.0
    infill_speed: float = 80.0
    solid_infill_speed: float = 60.0
    bridge_speed: float = 30.0
    first_layer_speed: float = 20.0
    travel_speed: float = 150.0
    retract_mm: float = 0.8
    retract_speed: float = 35.0
    retract_min_travel_mm: float = 2.0
    fan_percent: int = 100
    nozzle_temp_c: int = PrintProfile.nozzle_temp_c
    bed_temp_c: int = PrintProfile.bed_temp_c
    filament_diameter_mm: float = PrintProfile.filament_diameter_mm
    density_g_cm3: float = PrintProfile.density_g_cm3
    material: str = PrintProfile.material
    bed_mm: tuple[float, float] = DEFAULT_BUILD_MM[:2]
    max_height_mm: float = DEFAULT_BUILD_MM[2]
    start_gcode: str = DEFAULT_START_GCODE
    end_gcode: str = DEFAULT_END_GCODE
    # supports (slicing.supports): "off", "bed" (standing on the bed only), "everywhere", or
    # "auto": everywhere, when the part needs them: an overhang it cannot bridge, of at least
    # support_auto_min_mm2, reaching support_auto_min_reach_mm out or a ledge two lines wide
    supports: str = "off"
    support_auto_min_mm2: float = 5.0
    support_auto_min_reach_mm: float = 3.0
    support_angle_deg: float = 55.0  # a wall leaning out less than this from vertical holds
    support_z_gap_layers: int = 1  # empty layers between the support's top and the part
    support_xy_gap_mm: float = 0.6  # from the part's outline on each layer
    support_interface_layers: int = 2  # dense layers at the top of the support
    support_spacing_mm: float = 2.5  # between the sparse support lines
    support_interface_spacing_mm: float = 0.6

    @classmethod
    def from_profile(cls, profile: PrintProfile) -> SliceSettings:
        nozzle = profile.nozzle_mm
        return cls(
            nozzle_mm=nozzle,
            line_width_mm=round(nozzle * 1.125, 3),
            layer_height_mm=profile.layer_height_mm,
            first_layer_mm=max(profile.layer_height_mm, min(0.2, nozzle * 0.75)),
            infill=profile.infill,
            nozzle_temp_c=profile.nozzle_temp_c,
            bed_temp_c=profile.bed_temp_c,
            filament_diameter_mm=profile.filament_diameter_mm,
            density_g_cm3=profile.density_g_cm3,
            material=profile.material,
            brim_mm=profile.brim_mm,
            supports=profile.supports,
            bed_mm=(profile.build_mm[0], profile.build_mm[1]),
            max_height_mm=profile.build_mm[2],
            # PLA likes the fan; ABS and ASA warp and crack with it
            fan_percent=0 if profile.material.upper() in ("ABS", "ASA", "PC") else 100,
        )

    def spacing(self, height_mm: float | None = None) -> float:
        """Centre-to-centre distance of neighbouring lines, mm.

        A bead is modelled as a rectangle with semicircular sides (the model PrusaSlicer and
        Slic3r use): `line_width` wide and `h` high, it lays (w - h(1 - π/4))·h mm³ per mm, and
        neighbours overlap so that lines this far apart fill a layer exactly.
        """
        h = self.layer_height_mm if height_mm is None else height_mm
        return self.line_width_mm - h * (1.0 - math.pi / 4.0)

    def bead_mm2(self, height_mm: float) -> float:
        """Cross-section of one extruded line of this layer height, mm²."""
        return self.spacing(height_mm) * height_mm

    def bridge_mm2(self) -> float:
        """Cross-section of a bridge line: a round thread as wide as the nozzle (nothing
        below squashes it), the model PrusaSlicer uses."""
        return math.pi / 4.0 * self.nozzle_mm**2

    def bridge_spacing(self) -> float:
        return self.nozzle_mm + 0.05

    def with_changes(self, **changes: object) -> SliceSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def start(self) -> str:
        return (
            MACHINE_LIMITS
            + "\n"
            + self.start_gcode.format(bed=self.bed_temp_c, hotend=self.nozzle_temp_c)
        )

    def end(self, top_mm: float) -> str:
        lift = min(top_mm + 10.0, self.max_height_mm)
        return self.end_gcode.format(lift=f"{lift:.2f}", park_y=f"{self.bed_mm[1] - 10:.0f}")
