"""The planner's inputs and outputs. Times are POSIX seconds (floats), durations seconds.

Every field added after the first planner has a default, so callers that build the original
fields keep working and get the original behaviour (always staffed, no staggering, no windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Window = tuple[float, float]  # [start, end) in POSIX seconds


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
    # Materials it can print at all (enclosure, hardened nozzle...); empty = any.
    materials: frozenset[str] = frozenset()
    # A person must clear the bed after the run ending at free_at before the next can start.
    needs_clearing: bool = False
    auto_eject: bool = False  # its end script clears the bed: no person needed
    maintenance: tuple[Window, ...] = ()  # planned windows when it must not print
    # (material, colour in lower case; "" = any colour) an operator declined loading here:
    # no work needing it is planned on this printer (farm.services.work_lists).
    refused: frozenset[tuple[str, str]] = frozenset()


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
    preferred_site: str | None = None  # nearest to where the part is needed; others cost more
    copies_per_plate: int = 1  # from slicing: copies printed together in one run
    # A mesh may be turned 90 degrees on the bed; an uploaded G-code is fixed as it was sliced
    # (`size_mm` is then how far it reaches from the bed's origin).
    rotatable: bool = True
    # Seconds per copy on a given printer model, where known (learned or sliced per model).
    model_seconds: tuple[tuple[str, float], ...] = ()

    def seconds_on(self, model: str) -> float:
        for name, seconds in self.model_seconds:
            if name == model:
                return seconds
        return self.seconds_per_copy


@dataclass(frozen=True)
class SiteRules:
    """What a site's people and power allow. The defaults impose nothing."""

    # Staffed hours each day, local time, as (start hour, end hour); empty = always staffed.
    staffed_hours: tuple[tuple[float, float], ...] = ()
    staffed_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday = 0
    utc_offset_hours: float = 0.0
    clear_seconds: float = 0.0  # a person clearing one bed
    change_seconds: float = 0.0  # a person swapping material or colour
    max_heating: int = 0  # printers allowed to heat up at once; 0 = no limit
    heat_seconds: float = 300.0
    down: tuple[Window, ...] = ()  # the whole site is offline


@dataclass(frozen=True)
class PlanOptions:
    # False: a printer only gets work for the material and colour it holds now.
    allow_material_changes: bool = True
    # In the plan without site rules: a printer already holding a plate's material takes it
    # if it is free at most this much later than the first free printer. Fewer changes for
    # the people on the floor, at a small cost in makespan; 0 = ignore materials.
    change_penalty_seconds: float = 3600.0
    due_bucket_seconds: float = 86400.0  # due dates closer than this are treated as equal
    # A run that would end outside staffed hours and leave the bed waiting longer than this
    # is swapped for a shorter one that ends while people are there, if there is one.
    night_wait_seconds: float = 3600.0
    # A replan keeps the runs the previous plan promised (printer and order) unless a fresh
    # plan ends sooner by more than this share of the horizon (now to the end).
    replan_gain: float = 0.02


@dataclass(frozen=True)
class Assignment:
    job_id: int
    printer_id: int
    copies: int
    start: float
    end: float
    material_change: bool = False  # a person swaps material/colour before `start`


@dataclass
class Plan:
    assignments: list[Assignment] = field(default_factory=list)
    unplaceable: dict[int, str] = field(default_factory=dict)  # job id -> why no printer fits
    lower_bound: float | None = None  # no plan can finish all placeable work before this
    # The flow bound alone, without site rules (`lower_bound` adds what the rules cost).
    plain_bound: float | None = None
    # Any plan ending when this one does needs at least this many filament changes.
    changes_bound: int | None = None
    kept_previous: bool = False  # the previous plan's runs were kept (see `plan`)

    def completion(self) -> dict[int, float]:
        """When each job's last copy ends."""
        done: dict[int, float] = {}
        for a in self.assignments:
            if a.end > done.get(a.job_id, float("-inf")):
                done[a.job_id] = a.end
        return done


def incompatibility(printer: PrinterSlot, work: WorkItem) -> str | None:
    """Why `work` can never print on `printer`, or None when it can.

    Loaded material and colour are not hard limits: changing them costs operator time, which
    the planner weighs (see `needs_change`).
    """
    if work.site is not None and printer.site != work.site:
        return f"restricted to site {work.site}"
    if printer.materials and work.material not in printer.materials:
        return f"no printer can print {work.material}"
    if refuses(printer, work):
        return f"operators declined loading {work.colour} {work.material}".replace("  ", " ")
    if work.nozzle_mm is not None and abs(printer.nozzle_mm - work.nozzle_mm) > 1e-6:
        return f"needs a {work.nozzle_mm:g} mm nozzle"
    if not fits(work.size_mm, printer.build_mm, rotatable=work.rotatable):
        x, y, z = work.size_mm
        return f"{x:.0f} x {y:.0f} x {z:.0f} mm does not fit the build volume"
    return None


def refuses(printer: PrinterSlot, work: WorkItem) -> bool:
    """Did an operator decline loading what `work` needs on `printer`."""
    if not printer.refused:
        return False
    return (work.material, "") in printer.refused or (
        work.material,
        work.colour.lower(),
    ) in printer.refused


def needs_change(material: str, colour: str, work: WorkItem) -> bool:
    """Must a person swap filament on a printer holding (material, colour) to print `work`."""
    if material != work.material:
        return True
    return bool(work.colour) and colour.lower() != work.colour.lower()


def fits(
    size: tuple[float, float, float],
    build: tuple[float, float, float],
    *,
    rotatable: bool = True,
) -> bool:
    """Does a part fit, allowing it to be turned 90 degrees on the bed when `rotatable`."""
    x, y, z = size
    bx, by, bz = build
    return z <= bz and ((x <= bx and y <= by) or (rotatable and y <= bx and x <= by))
