"""Small builders so each test names only what matters to it."""

from __future__ import annotations

from farm.scheduling.types import PrinterSlot, WorkItem

H = 3600.0
NOW = 1795392000.0  # Monday 2026-11-23 00:00 UTC

MINI = (180.0, 180.0, 180.0)
XL = (360.0, 360.0, 360.0)


def printer(
    id: int,
    *,
    site: str = "A",
    model: str = "MINI",
    free_at: float = NOW,
    material: str = "PLA",
    colour: str = "black",
    nozzle_mm: float = 0.4,
    build_mm: tuple[float, float, float] = MINI,
    **extra: object,
) -> PrinterSlot:
    return PrinterSlot(
        id=id,
        site=site,
        model=model,
        free_at=free_at,
        material=material,
        colour=colour,
        nozzle_mm=nozzle_mm,
        build_mm=build_mm,
        **extra,  # type: ignore[arg-type]
    )


def job(
    job_id: int,
    hours: float,
    *,
    copies: int = 1,
    material: str = "PLA",
    colour: str = "",
    size_mm: tuple[float, float, float] = (50.0, 50.0, 50.0),
    **extra: object,
) -> WorkItem:
    return WorkItem(
        job_id=job_id,
        copies=copies,
        seconds_per_copy=hours * H,
        material=material,
        colour=colour,
        size_mm=size_mm,
        **extra,  # type: ignore[arg-type]
    )
