"""The toolpath value types shared by the planner, the infill and the G-code writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class Kind(StrEnum):
    """What a toolpath prints; the value is its G-code `;TYPE:` name (PrusaSlicer's)."""

    EXTERNAL = "External perimeter"
    PERIMETER = "Perimeter"
    OVERHANG = "Overhang perimeter"  # a loop's stretch over air (slicing.overhangs)
    SOLID = "Solid infill"
    SPARSE = "Internal infill"
    SKIRT = "Skirt"
    BRIM = "Brim"
    BRIDGE = "Bridge infill"
    GAP_FILL = "Gap fill"  # between perimeters, and walls too thin for two lines
    SUPPORT = "Support material"
    SUPPORT_INTERFACE = "Support material interface"


@dataclass(frozen=True)
class Toolpath:
    kind: Kind
    points: np.ndarray  # (n, 2) float; a closed loop repeats its first point at the end
    closed: bool
    # starts beside the previous path's end inside the same fill area: the travel between
    # them crosses no perimeter, so it needs no retraction (as PrusaSlicer's linked infill)
    linked: bool = False
    # filament cross-section laid per mm of path, mm² (a gap fill's own width × height);
    # None: the line width's bead (a bridge: its round thread)
    flow_mm2: float | None = None


@dataclass(frozen=True)
class Layer:
    z: float  # top of the layer
    height: float
    paths: list[Toolpath] = field(default_factory=list)
