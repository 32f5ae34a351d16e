"""What a part is prepared for: the printer and material settings that shape its G-code."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

# The bed and height of a printer nobody described: width (X), depth (Y), height (Z) in mm.
DEFAULT_BUILD_MM: tuple[float, float, float] = (250.0, 210.0, 220.0)


@dataclass(frozen=True)
class PrintProfile:
    nozzle_mm: float = 0.4
    build_mm: tuple[float, float, float] = DEFAULT_BUILD_MM
    filament_diameter_mm: float = 1.75
    density_g_cm3: float = 1.24
    nozzle_temp_c: int = 210
    bed_temp_c: int = 60
    layer_height_mm: float = 0.2
    infill: float = 0.2
    material: str = "PLA"
    brim_mm: float = 0.0  # a brim this wide holds small or tall parts down; 0 for none
    engine: str = "auto"  # "auto" (best installed), "builtin", "prusaslicer", "curaengine"
    # "off", "bed" (on the bed only), "everywhere" or "auto" (everywhere, if the part needs them)
    supports: str = "off"

    def digest(self) -> str:
        """A stable hash of every setting, for the slice cache key."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()
