"""What a deployment allows and provides for slicing, handed to slicing as one value.

slicing reads no environment and imports no Django: the farm builds a SlicingLimits from its
settings (`farm.slicing_config.slicing_limits()`, from the `SLICING_*` and `PRUSASLICER`
variables) and passes it in. The defaults are the farm's defaults, so plain-Python callers
(the bench, the tests) need nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
ENGINES = ("auto", "builtin", "prusaslicer", "curaengine")
PRUSASLICER = "prusa-slicer"
CURAENGINE = "CuraEngine"


@dataclass(frozen=True)
class SlicingLimits:
    """How much one upload may cost the worker, and which engine and cache it uses."""

    max_file_bytes: int = 256 * MB  # SLICING_MAX_FILE_MB: a mesh file
    max_unzipped_bytes: int = 1024 * MB  # SLICING_MAX_UNZIPPED_MB: a 3MF's declared contents
    max_zip_ratio: float = 100.0  # XML meshes compress 5-20x; bombs compress 1000x
    max_zip_members: int = 10_000
    max_faces: int = 2_000_000  # SLICING_MAX_FACES: triangles in one mesh
    # FARM_SLICE_MEMORY_MB: what one slice may add to its worker. A mesh whose estimated cost
    # (slicing.budget) is above it is refused before it is parsed; 0: no estimate is made.
    max_memory_bytes: int = 3072 * MB
    # FARM_SLICE_TIME_LIMIT: checked between the steps of a slice, and PrusaSlicer's time-out
    max_seconds: float = 600.0
    max_gcode_bytes: int = 512 * MB  # SLICING_MAX_GCODE_MB: an uploaded G-code
    # SLICING_THREADS: threads of one built-in slice (slicing.parallel); 0: every core this
    # process may use
    threads: int = 0
    engine: str = ""  # SLICING_ENGINE: overrides every profile's engine when set
    prusaslicer: str = PRUSASLICER  # PRUSASLICER: the executable's name or path
    curaengine: str = CURAENGINE  # CURAENGINE: the executable's name or path
    # SLICING_CURA_DEFINITIONS: the folder with Cura's fdmprinter.def.json; else the
    # usual places (slicing.curaengine.DEFAULT_DEFINITION_DIRS)
    cura_definitions: Path | None = None
    cache_dir: Path | None = None  # SLICING_CACHE_DIR: else `gcode/` beside the upload
    # SLICING_TEMP_DIR: where each slice's own temporary folder is made (and always removed);
    # else `.tmp/` inside the cache folder, so finished G-code is renamed, not copied, into place
    temp_dir: Path | None = None


DEFAULT_LIMITS = SlicingLimits()
