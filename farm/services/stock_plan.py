"""The planner aware of the filament in stock.

A filament change is worth asking for only if an operator can do it: a spool of that material
and colour on the shelf (archived no, loaded nowhere) with more grams left than the run needs.
Before the plan is made, from what is in stock:

- a job nobody could print without such a change (no plannable printer it fits holds its
  filament, and no spool on the shelf could finish one of its runs) is left out of the plan and waits
  with the note "no PETG red in stock";
- a material and colour no shelf spool could finish any waiting run of is refused on every
  printer that does not hold it (`PrinterSlot.refused`, as an operator's decline), so its
  work goes to the printers that hold it instead of to a change nobody can make. (Where some
  of its runs fit a shelf spool and others do not, a change may still be asked for one that
  does not: the planner refuses by material and colour, not by job.)

Stock is tracked per material: a material of which no spool was ever recorded is not tracked
(a farm with no spools recorded plans exactly as before), as in `spools.out_of_stock_declines`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.db.models import Max
from django.utils import timezone

from farm.models import Job, Spool
from farm.scheduling import PrinterSlot, WorkItem
from farm.scheduling.types import incompatibility
from farm.services.notifications import Message, NotifyEvent, notify
from farm.statuses import JobStatus

Filament = tuple[str, str]  # (material name, colour in lower case; "" = any colour)


@dataclass(frozen=True)
class Shelf:
    """What stock the planner may ask for: the tracked materials, and the most grams left on
    one shelf spool of each (material, colour)."""

    tracked: frozenset[str]
    largest: Mapping[Filament, float]

    def largest_for(self, material: str, colour: str) -> float:
        colour = colour.lower()
        if colour:
            return self.largest.get((material, colour), 0.0)
        return max((g for (m, _), g in self.largest.items() if m == material), default=0.0)


@dataclass(frozen=True)
class StockPlan:
    slots: list[PrinterSlot]
    items: list[WorkItem]
    notes: dict[int, str]  # job id -> why it waits ("no PETG red in stock")


def shelf_read() -> Shelf:
    """Two queries; the second only when the farm keeps spools at all."""
    tracked = frozenset(Spool.objects.values_list("material__name", flat=True).distinct())
    if not tracked:
        return Shelf(frozenset(), {})
    rows = (
        Spool.objects.filter(archived=False, printer__isnull=True, remaining_g__gt=0)
        .values_list("material__name", "colour")
        .annotate(largest=Max("remaining_g"))
    )
    largest: dict[Filament, float] = {}
    for material, colour, grams in rows:
        key = (material, colour.lower())
        largest[key] = max(largest.get(key, 0.0), grams)
    return Shelf(tracked, largest)


def run_grams(item: WorkItem, grams_per_copy: float) -> float:
    """One run's filament: a plate's copies (or what is left of the job)."""
    return grams_per_copy * min(item.copies, max(1, item.copies_per_plate))


def _holds(slot: PrinterSlot, material: str, colour: str) -> bool:
    return slot.material == material and (not colour or slot.colour.lower() == colour.lower())


def filament_name(material: str, colour: str) -> str:
    return f"{material} {colour}".strip()


def stock_limit(
    slots: list[PrinterSlot],
    items: list[WorkItem],
    shelf: Shelf,
    grams_per_copy: Mapping[int, float],
) -> StockPlan:
    """The plan's inputs with what is out of stock taken out (see the module's docstring).
    Plain Python: `grams_per_copy` by job id (0 when unknown)."""
    if not shelf.tracked:
        return StockPlan(slots, items, {})
    holders: dict[tuple[str, str | None], list[PrinterSlot]] = defaultdict(list)
    for slot in slots:
        holders[(slot.material, slot.colour.lower())].append(slot)
        holders[(slot.material, None)].append(slot)
    kept: list[WorkItem] = []
    notes: dict[int, str] = {}
    waited: set[Filament] = set()  # tracked filaments the work needs
    stocked: set[Filament] = set()  # ... of which a shelf spool could finish a run
    for item in items:
        if item.material not in shelf.tracked:
            kept.append(item)
            continue
        filament = (item.material, item.colour.lower())
        waited.add(filament)
        fits = shelf.largest_for(*filament) > run_grams(item, grams_per_copy.get(item.job_id, 0.0))
        if fits:
            stocked.add(filament)
        holding = holders.get((item.material, item.colour.lower() or None), ())
        if fits or any(incompatibility(s, item) is None for s in holding):
            kept.append(item)  # a spool can be loaded, or a printer holding it prints it
        else:
            notes[item.job_id] = f"no {filament_name(item.material, item.colour)} in stock"
    if waited - stocked:
        slots = [_refuse(s, waited - stocked) for s in slots]
    return StockPlan(slots, kept, notes)


def _refuse(slot: PrinterSlot, unstocked: set[Filament]) -> PrinterSlot:
    extra = {(m, c) for m, c in unstocked if not _holds(slot, m, c)}
    if not extra or extra <= slot.refused:
        return slot
    return replace(slot, refused=slot.refused | extra)


def grams_per_copy_of(materials: Iterable[str]) -> dict[int, float]:
    """Grams per copy of the jobs the planner plans in these materials (one query, by
    condition: a list of 40,000 ids is over SQLite's parameter limit)."""
    rows = Job.objects.filter(
        status__in=(JobStatus.QUEUED, JobStatus.PRINTING), material__name__in=list(materials)
    ).values_list("pk", "grams_per_copy")
    return {pk: grams or 0.0 for pk, grams in rows}


def stock_plan(slots: list[PrinterSlot], items: list[WorkItem]) -> StockPlan:
    """`stock_limit` over the farm's shelf, read now (nothing read when no spools exist)."""
    shelf = shelf_read()
    if not shelf.tracked:
        return StockPlan(slots, items, {})
    return stock_limit(slots, items, shelf, grams_per_copy_of(shelf.tracked))


def out_of_stock_notify(notes: Mapping[int, str]) -> int:
    """A low-stock alert (once a day per filament) for what jobs wait for."""
    if not notes:
        return 0
    today = timezone.now().date().isoformat()
    waiting = Counter(notes.values())
    return notify(
        Message(
            NotifyEvent.LOW_STOCK,
            f"Out of stock: {note.removeprefix('no ').removesuffix(' in stock')}",
            f"{count} job{'s' if count != 1 else ''} wait: {note}.",
            f"out_of_stock:{note}:{today}",
        )
        for note, count in sorted(waiting.items())
    )
