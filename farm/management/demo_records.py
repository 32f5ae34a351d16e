"""The demo farm's records (`seed_demo`): spools on the shelf and on a few printers, one
material and colour running low, a maintenance schedule per printer model, and a little
history, so the spools and maintenance pages of `make run` have something to show.

A fixed, small number of rows whatever the farm's size (the browser tests seed 10,000
printers with `seed_demo`): a spool per printer would be 10,000 rows for nothing.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from farm.models import (
    MaintenanceLog,
    MaintenanceSchedule,
    Material,
    Printer,
    Spool,
    StockThreshold,
)

# Grams left on the shelf's spools of each material and colour the demo printers hold.
SHELF_GRAMS = (1000.0, 1000.0, 620.0)
LOW = ("ABS", "grey")  # one spool, under its threshold: the low-stock alert
LOW_GRAMS, LOW_THRESHOLD = 180.0, 500.0
VENDORS = ("Prusament", "Polymaker", "eSun")
LOADED = 5  # the first printers get a spool loaded (the others hold filament not recorded)
MODEL_TASKS = {  # model -> (task, every print hours)
    "Prusa MK4": ("Clean and lubricate the Z rods and bearings", 250.0),
    "Prusa MINI+": ("Clean the nozzle and check the PTFE tube", 150.0),
    "Creality K1": ("Check belt tension and clean the hotend fan", 300.0),
}
PLATE_DAYS, PLATE_AGE_DAYS = 30, 28  # a date schedule on one printer, due soon


def demo_records_seed(*, materials: dict[str, Material], loads: list[tuple[str, str]]) -> None:
    spools = [
        Spool(
            material=materials[m],
            colour=c,
            vendor=VENDORS[k % len(VENDORS)],
            initial_g=1000.0,
            remaining_g=grams,
            location=f"Shelf {chr(ord('A') + i)}-{k + 1}",
        )
        for i, (m, c) in enumerate(loads)
        if (m, c) != LOW
        for k, grams in enumerate(SHELF_GRAMS)
    ]
    spools.append(
        Spool(
            material=materials[LOW[0]],
            colour=LOW[1],
            vendor=VENDORS[0],
            remaining_g=LOW_GRAMS,
            location="Shelf Z-1",
        )
    )
    first = list(
        Printer.objects.exclude(material__name=LOW[0], colour=LOW[1])  # that one stays low
        .exclude(material=None)
        .order_by("pk")
        .select_related("material")[:LOADED]
    )
    spools += [
        Spool(
            material=p.material,
            colour=p.colour,
            vendor=VENDORS[1],
            remaining_g=800.0,
            location=p.name,
            printer=p,
        )
        for p in first
        if p.material is not None  # for mypy: excluded above
    ]
    Spool.objects.bulk_create(spools)
    StockThreshold.objects.create(material=materials[LOW[0]], colour=LOW[1], min_g=LOW_THRESHOLD)

    models = set(Printer.objects.values_list("model", flat=True).distinct())
    MaintenanceSchedule.objects.bulk_create(
        MaintenanceSchedule(printer_model=model, task=task, every_print_hours=hours)
        for model, (task, hours) in MODEL_TASKS.items()
        if model in models
    )
    if not first:
        return
    now = timezone.now()
    plate = MaintenanceSchedule.objects.create(
        printer=first[0], task="Replace the PEI sheet", every_days=PLATE_DAYS, blocks=False
    )
    # Made four weeks ago, so the page shows it due soon (created_at is set on save).
    MaintenanceSchedule.objects.filter(pk=plate.pk).update(
        created_at=now - datetime.timedelta(days=PLATE_AGE_DAYS)
    )
    MaintenanceLog.objects.create(
        printer=first[-1],
        done_at=now - datetime.timedelta(days=2),
        note="Nozzle swapped after a clog (unplanned work).",
    )
