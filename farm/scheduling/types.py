"""The planner's inputs and outputs. Times are POSIX seconds (floats), durations seconds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PrinterSlot:
    """One printer as the planner sees it."""

    id: int
    site: str
    model: str
    free_at: float  # when it can start its next run (now, or when its current run ends)
    material: str  # the material loaded now ("" = none)
    colour: str
    nozzle_mm: float
    build_mm: tuple[float, float, float]


@dataclass(frozen=True)
class WorkItem:
    """The copies of one job still waiting to be planned."""

    job_id: int
    copies: int
    seconds_per_copy: float
    material: str
    colour: str  # "" = any colour
    size_mm: tuple[float, float, float]  # the part's bounding box as it will be printed
    nozzle_mm: float | None = None  # None = any nozzle (a mesh, sliced per printer)
    priority: int = 0  # higher first
    due: float | None = None
    submitted: float = 0.0
    site: str | None = None  # must print at this site, if set


@dataclass(frozen=True)
class Assignment:
    job_id: int
    printer_id: int
    copies: int
    start: float
    end: float


@dataclass
class Plan:
    assignments: list[Assignment] = field(default_factory=list)
    unplaceable: dict[int, str] = field(default_factory=dict)  # job id -> why no printer fits

    def for_job(self, job_id: int) -> list[Assignment]:
        return [a for a in self.assignments if a.job_id == job_id]


def incompatibility(printer: PrinterSlot, work: WorkItem) -> str | None:
    """Why `work` cannot print on `printer`, or None when it can."""
    if work.site is not None and printer.site != work.site:
        return f"restricted to site {work.site}"
    if printer.material != work.material:
        return f"needs {work.material} loaded"
    if work.colour and printer.colour.lower() != work.colour.lower():
        return f"needs {work.colour} {work.material} loaded"
    if work.nozzle_mm is not None and abs(printer.nozzle_mm - work.nozzle_mm) > 1e-6:
        return f"needs a {work.nozzle_mm:g} mm nozzle"
    if not fits(work.size_mm, printer.build_mm):
        x, y, z = work.size_mm
        return f"{x:.0f} x {y:.0f} x {z:.0f} mm does not fit the build volume"
    return None


def fits(size: tuple[float, float, float], build: tuple[float, float, float]) -> bool:
    """Does a part fit, allowing it to be turned 90 degrees on the bed."""
    x, y, z = size
    bx, by, bz = build
    return z <= bz and ((x <= bx and y <= by) or (y <= bx and x <= by))
