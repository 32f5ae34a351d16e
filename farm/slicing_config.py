"""The slicing package's limits, built from the settings (the `SLICING_*`, `PRUSASLICER` and
`CURAENGINE` variables are read in farm/settings.py): slicing itself reads no environment.

A slice's memory and time budgets are the slicing task's own (FARM_SLICE_MEMORY_MB,
FARM_SLICE_TIME_LIMIT): slicing refuses up front what would not fit in them."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from slicing.limits import MB, SlicingLimits


def slicing_limits() -> SlicingLimits:
    """What `prepare()`, the loader and the engines may use, from the current settings."""
    return SlicingLimits(
        max_file_bytes=settings.SLICING_MAX_FILE_MB * MB,
        max_unzipped_bytes=settings.SLICING_MAX_UNZIPPED_MB * MB,
        max_faces=settings.SLICING_MAX_FACES,
        max_memory_bytes=settings.FARM_SLICE_MEMORY_MB * MB,
        max_seconds=float(settings.FARM_SLICE_TIME_LIMIT),
        max_gcode_bytes=settings.SLICING_MAX_GCODE_MB * MB,
        threads=settings.SLICING_THREADS,
        engine=settings.SLICING_ENGINE,
        prusaslicer=settings.PRUSASLICER,
        curaengine=settings.CURAENGINE,
        cura_definitions=(
            Path(settings.SLICING_CURA_DEFINITIONS) if settings.SLICING_CURA_DEFINITIONS else None
        ),
        cache_dir=Path(settings.SLICING_CACHE_DIR) if settings.SLICING_CACHE_DIR else None,
        temp_dir=Path(settings.SLICING_TEMP_DIR) if settings.SLICING_TEMP_DIR else None,
    )
