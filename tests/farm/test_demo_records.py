"""seed_demo's records: spools on the shelf and on printers with one filament low, a
maintenance schedule per model, so the spools and maintenance pages show something."""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.core.management import call_command
from django.test import Client

from farm.models import MaintenanceSchedule, Printer, Spool
from farm.roles import OPERATOR
from farm.services.maintenance import maintenance_status
from farm.services.spools import stock_levels
from tests.conftest import _user


def test_the_demo_farm_has_spools_one_filament_low_and_a_schedule_per_model(
    db: Any, settings: Any, tmp_path: Any
) -> None:
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", printers=12, stdout=StringIO())
    low = [s for s in stock_levels() if s.low]
    assert [(s.material, s.colour) for s in low] == [("ABS", "grey")]
    assert Spool.objects.filter(printer__isnull=False).count() == 5
    for spool in Spool.objects.exclude(printer=None).select_related("printer"):
        assert spool.printer is not None
        assert (spool.material_id, spool.colour) == (
            spool.printer.material_id,
            spool.printer.colour,
        )
    models = set(Printer.objects.values_list("model", flat=True))
    by_model = MaintenanceSchedule.objects.exclude(printer_model="")
    assert set(by_model.values_list("printer_model", flat=True)) == models
    assert all(s.every_print_hours for s in by_model)
    soon = [i for i in maintenance_status() if i.soon or i.overdue]
    assert [i.schedule.task for i in soon] == ["Replace the PEI sheet"]
    assert not Printer.objects.filter(row="").exists()

    client = Client()
    client.force_login(_user("olga", OPERATOR))
    spools = client.get("/operator/spools/").content.decode()
    assert "Shelf Z-1" in spools and "grey" in spools
    maintenance = client.get("/operator/maintenance/").content.decode()
    assert "Replace the PEI sheet" in maintenance and "Nothing is due" not in maintenance
    assert "Nozzle swapped" in maintenance
