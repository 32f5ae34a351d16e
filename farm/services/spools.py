"""Filament inventory: spools loaded on printers, what each run took from them, stock per
material and colour against its threshold.

The planner reads what a printer holds (Printer.material and colour): loading a spool sets
them (through `printer_load_filament`, which also meets a filament request), and a loaded
spool that runs empty takes them away, so the next pass plans a filament change for that
printer instead of a print it cannot finish.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from farm.models import (
    Event,
    FilamentDecline,
    Material,
    Printer,
    PrintRun,
    Spool,
    SpoolUse,
    StockThreshold,
)
from farm.models.event import EventKind
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.notifications import Message, NotifyEvent, notify
from farm.services.printer_control import printer_load_filament

log = logging.getLogger(__name__)

SPOOL_USED = "spool.used"
SPOOL_EMPTY = "spool.empty"
SPOOL_LOADED = "spool.loaded"
SPOOL_UNLOADED = "spool.unloaded"


def run_filament_grams(run: PrintRun, *, share: float = 1.0) -> float:
    """What a run took: the job's grams per copy × copies, × the share printed (a failed run
    used filament up to where it stopped)."""
    per_copy = run.job.grams_per_copy or 0.0
    return max(0.0, per_copy * run.copies * min(max(share, 0.0), 1.0))


def spool_use_for_run(*, run: PrintRun, share: float = 1.0) -> SpoolUse | None:
    """Take a finished (or failed) run's filament off the spool loaded on its printer.

    Called inside the transaction that ends the run. Counted once per run (SpoolUse.run is
    unique), however often the end is recorded. A spool that runs empty is unloaded and the
    printer holds no filament any more (the planner then asks for a spool to be loaded).
    """
    grams = run_filament_grams(run, share=share)
    spool = Spool.objects.select_for_update().filter(printer_id=run.printer_id).first()
    if spool is None or grams <= 0:
        return None
    use, created = SpoolUse.objects.get_or_create(
        run=run, defaults={"spool": spool, "grams": grams}
    )
    if not created:
        return use
    Spool.objects.filter(pk=spool.pk).update(remaining_g=F("remaining_g") - grams)
    spool.refresh_from_db(fields=["remaining_g"])
    if spool.remaining_g <= 0:
        _empty(spool)
    return use


def _empty(spool: Spool) -> None:
    assert spool.printer_id is not None  # it was found loaded on this printer
    printer = Printer.objects.select_for_update().get(pk=spool.printer_id)
    spool.printer = None
    spool.location = f"empty, from {printer.name}"[:100]
    spool.save(update_fields=["printer", "location"])
    event_record(SPOOL_EMPTY, printer=printer, message=f"spool #{spool.pk} ran out")
    if printer.material_id == spool.material_id and printer.colour == spool.colour:
        # What the planner reads: no filament on this printer until someone loads a spool.
        printer.material = None
        printer.colour = ""
        printer.save(update_fields=["material", "colour"])
        enqueue_schedule_pass()


def spool_load(*, spool: Spool, printer: Printer, actor: User | None) -> None:
    """Put a spool on a printer: the one it held comes off, and the printer holds this
    spool's material and colour (its filament request met, if it asked for this)."""
    if spool.archived:
        raise ValidationError("That spool is archived.")
    if spool.remaining_g <= 0:
        raise ValidationError("That spool is empty.")
    with transaction.atomic():
        Spool.objects.filter(printer=printer).exclude(pk=spool.pk).update(printer=None)
        # Raises when the printer is printing (filament is swapped after the print).
        printer_load_filament(
            printer=printer, material=spool.material, colour=spool.colour, actor=actor
        )
        Spool.objects.filter(pk=spool.pk).update(printer=printer, location=printer.name[:100])
        event_record(SPOOL_LOADED, printer=printer, actor=actor, message=f"spool #{spool.pk}")


def spool_unload(*, spool: Spool, actor: User | None, location: str = "") -> None:
    with transaction.atomic():
        printer = spool.printer
        Spool.objects.filter(pk=spool.pk).update(printer=None, location=location[:100])
        if printer is not None:
            event_record(SPOOL_UNLOADED, printer=printer, actor=actor, message=f"spool #{spool.pk}")


def spool_archive(*, spool: Spool, actor: User | None) -> None:
    """Used up or thrown away: off its printer and out of the stock."""
    with transaction.atomic():
        spool_unload(spool=spool, actor=actor, location=spool.location)
        Spool.objects.filter(pk=spool.pk).update(archived=True)


@dataclass(frozen=True)
class Stock:
    material: str
    colour: str  # "" for a threshold over all colours
    grams: float
    spools: int
    threshold: float | None

    @property
    def low(self) -> bool:
        return self.threshold is not None and self.grams < self.threshold


def stock_levels() -> list[Stock]:
    """Grams in stock (spools not archived, loaded ones too) per material and colour, and per
    material where a threshold covers all its colours; summed in SQL."""
    rows = (
        Spool.objects.filter(archived=False, remaining_g__gt=0)
        .values("material__name", "colour")
        .annotate(grams=Sum("remaining_g"), spools=Count("pk"))
        .order_by("material__name", "colour")
    )
    found = {(r["material__name"], r["colour"]): (r["grams"], r["spools"]) for r in rows}
    thresholds = {
        (t.material.name, t.colour): t.min_g
        for t in StockThreshold.objects.select_related("material")
    }
    levels = [Stock(m, c, grams, n, thresholds.get((m, c))) for (m, c), (grams, n) in found.items()]
    for (m, c), min_g in thresholds.items():
        if c == "":
            grams = sum(g for (mm, _), (g, _) in found.items() if mm == m)
            spools = sum(n for (mm, _), (_, n) in found.items() if mm == m)
            if (m, "") in found:
                levels = [s for s in levels if (s.material, s.colour) != (m, "")]
            levels.append(Stock(m, "", grams, spools, min_g))
        elif (m, c) not in found:
            levels.append(Stock(m, c, 0.0, 0, min_g))  # none at all is the lowest stock
    levels.sort(key=lambda s: (not s.low, s.material, s.colour))
    return levels


def low_stock_notify() -> int:
    """Tell operators (once a day per material and colour) what is below its threshold."""
    today = timezone.now().date().isoformat()
    messages = [
        Message(
            NotifyEvent.LOW_STOCK,
            f"Low stock: {s.material} {s.colour or '(all colours)'}",
            f"{s.grams:.0f} g left on {s.spools} spools, under the {s.threshold:.0f} g threshold.",
            f"low_stock:{s.material}:{s.colour}:{today}",
        )
        for s in stock_levels()
        if s.low
    ]
    return notify(messages)


def material_for_name(name: str) -> Material | None:
    return Material.objects.filter(name__iexact=name.strip()).first()


OUT_OF_STOCK_HOURS = 1.0


def out_of_stock_declines() -> int:
    """Withdraw filament requests nobody can meet: the printer asks for a material and colour
    the farm keeps spools of (its inventory is tracked) but has no spool of on the shelf.

    Written as the operators' own decline (FilamentDecline, which the planner already reads),
    for an hour: the planner gives that work to a printer that holds the filament, or waits;
    the next sweep looks again. A material with no spool ever recorded is left alone (the farm
    does not track it, so nothing says it is out). Returns the requests withdrawn.
    """
    tracked = set(Spool.objects.values_list("material_id", flat=True).distinct())
    asking = list(
        Printer.objects.filter(requested_material_id__in=tracked).values_list(
            "pk", "requested_material_id", "requested_colour"
        )
    )
    if not asking:
        return 0
    on_shelf = {
        (m, c.lower())
        for m, c in Spool.objects.filter(
            archived=False, remaining_g__gt=0, printer__isnull=True
        ).values_list("material_id", "colour")
    }
    out = [(pk, m, c) for pk, m, c in asking if (m, c.lower()) not in on_shelf]
    if not out:
        return 0
    until = timezone.now() + datetime.timedelta(hours=OUT_OF_STOCK_HOURS)
    with transaction.atomic():
        # Only where the request is still the same one (an operator may have met it meanwhile).
        withdrawn = []
        for pk, material_id, colour in out:
            if Printer.objects.filter(
                pk=pk, requested_material_id=material_id, requested_colour=colour
            ).update(requested_material=None, requested_colour=""):
                withdrawn.append((pk, material_id, colour))
        FilamentDecline.objects.bulk_create(
            FilamentDecline(
                printer_id=pk, material_id=m, colour=c, reason="out of stock", until=until
            )
            for pk, m, c in withdrawn
        )
        names = dict(Material.objects.values_list("pk", "name"))
        Event.objects.bulk_create(
            Event(
                kind=EventKind.PRINTER_FILAMENT_DECLINED,
                printer_id=pk,
                message=f"no spool of {names.get(m, m)} {c} in stock".strip(),
                data={"hours": OUT_OF_STOCK_HOURS, "out_of_stock": True},
            )
            for pk, m, c in withdrawn
        )
        if withdrawn:
            enqueue_schedule_pass()
    return len(withdrawn)
