"""The printer page: live state, the temperature history (a bounded ring in the cache), the
job on it with its layer preview, its runs and failure reasons, and controls that ask first
where a print would be lost."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from farm.models import Event, Job, MaintenanceSchedule, Printer, PrintRun
from farm.models.event import EventKind
from farm.services.maintenance import maintenance_log_work
from farm.services.observation import printers_live_record
from farm.services.preparation import job_prepare
from farm.services.printer_history import (
    SAMPLE_SECONDS,
    SLOTS,
    history,
    temperature_key,
    temperature_series,
)
from farm.services.runs import run_fail, run_start
from farm.services.submission import job_submit
from farm.statuses import RunStatus
from printers.drivers.base import DeviceStatus
from printers.states import DeviceState
from tests.farm.helpers import claim


@pytest.fixture(autouse=True)
def _fresh_history() -> None:
    history.forget()  # the per-process "sampled in this bucket" memory


@pytest.fixture
def operator_client(client: Client, operator: Any) -> Client:
    client.force_login(operator)
    return client


@pytest.fixture
def printing(alice: Any, pla: Any, cube_upload: Any, make_printer: Any) -> PrintRun:
    """A printer with a failed run behind it and a print under way."""
    printer = make_printer("berlin-1")
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=2)
    job_prepare(job_id=job.pk)
    job = Job.objects.get(pk=job.pk)
    first = claim(job, printer)
    run_start(run_id=first.pk)
    run_fail(run_id=first.pk, reason="nozzle clogged")
    Printer.objects.filter(pk=printer.pk).update(bed_clear=True, current_run=None)
    run = claim(Job.objects.get(pk=job.pk), printer)
    run_start(run_id=run.pk)
    return PrintRun.objects.select_related("printer", "job").get(pk=run.pk)


def status(**temps: float) -> DeviceStatus:
    return DeviceStatus(DeviceState.PRINTING, progress=0.5, temperatures=temps)


def test_the_page_shows_the_job_its_layer_and_the_history(
    operator_client: Client, printing: PrintRun
) -> None:
    printers_live_record([(printing.printer_id, status(tool0=214.6, bed=60.2), timezone.now())])
    page = operator_client.get(f"/operator/printers/{printing.printer_id}/").content.decode()
    assert "berlin-1" in page and f"#{printing.job_id}" in page
    assert "tool0 215 °C" in page  # the live entry, before any script runs
    layer = printing.job.layers // 2  # half-way through, by its progress
    assert f"/jobs/{printing.job_id}/layers/{layer}.svg" in page
    assert "nozzle clogged" in page and "failure rate 50 %" in page
    assert "Cancel the print" in page and "data-confirm=" in page
    assert "farm/vendor/uplot/uPlot.iife.min.js" in page


def test_fleet_cards_link_to_the_printer_page(operator_client: Client, printing: PrintRun) -> None:
    link = f'href="/operator/printers/{printing.printer_id}/"'
    assert link in operator_client.get("/operator/fleet/").content.decode()
    assert link in operator_client.get("/operator/").content.decode()


def test_temperatures_are_kept_one_sample_per_bucket_in_a_bounded_ring(
    operator_client: Client, printing: PrintRun
) -> None:
    pk = printing.printer_id
    start = timezone.now() - datetime.timedelta(minutes=30)
    for i in range(6):
        at = start + datetime.timedelta(seconds=SAMPLE_SECONDS * i)
        printers_live_record([(pk, status(tool0=200.0 + i, bed=60.0), at)])
        # the same bucket again: not another sample
        printers_live_record([(pk, status(tool0=999.0, bed=60.0), at)])
    answer = json.loads(operator_client.get(f"/operator/printers/{pk}/live.json").content)
    assert answer["series"]["sensors"]["tool0"] == [200.0, 201.0, 202.0, 203.0, 204.0, 205.0]
    assert len(answer["series"]["times"]) == 6 and answer["state"] == "printing"

    # Two hours of samples fill the ring once over: never more than SLOTS entries.
    for i in range(2 * SLOTS):
        at = start + datetime.timedelta(seconds=SAMPLE_SECONDS * (i + 6))
        printers_live_record([(pk, status(tool0=210.0), at)])
    keys = [temperature_key(pk, slot) for slot in range(SLOTS + 5)]
    assert len(cache.get_many(keys)) == SLOTS
    late = start + datetime.timedelta(seconds=SAMPLE_SECONDS * (2 * SLOTS + 6))
    assert len(temperature_series(pk, now=late).times) <= SLOTS


def test_cancelling_a_print_asks_first_without_a_script(
    operator_client: Client, printing: PrintRun
) -> None:
    url = f"/operator/printers/{printing.printer_id}/control/"
    response = operator_client.post(url, {"control": "cancel"})
    assert response.status_code == 200 and "is lost" in response.content.decode()
    assert not Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED).exists()
    response = operator_client.post(url, {"control": "cancel", "confirmed": "yes"})
    assert response.status_code == 302
    event = Event.objects.get(kind=EventKind.PRINTER_COMMAND_REQUESTED)
    assert event.data == {"command": "cancel"}


def test_pause_needs_no_question(operator_client: Client, printing: PrintRun) -> None:
    url = f"/operator/printers/{printing.printer_id}/control/"
    assert operator_client.post(url, {"control": "pause"}).status_code == 302
    assert Event.objects.get(kind=EventKind.PRINTER_COMMAND_REQUESTED).data == {"command": "pause"}


def test_out_of_service_and_back(operator_client: Client, printing: PrintRun) -> None:
    url = f"/operator/printers/{printing.printer_id}/control/"
    operator_client.post(url, {"control": "out_of_service"})
    printer = Printer.objects.get(pk=printing.printer_id)
    assert printer.maintenance
    assert printer.current_run_id == printing.pk  # the print under way goes on
    assert PrintRun.objects.get(pk=printing.pk).status == RunStatus.PRINTING
    page = operator_client.get(f"/operator/printers/{printer.pk}/").content.decode()
    assert "Back in service" in page
    operator_client.post(url, {"control": "in_service"})
    assert not Printer.objects.get(pk=printer.pk).maintenance
    kinds = list(Event.objects.filter(printer=printer).values_list("kind", flat=True))
    assert EventKind.PRINTER_OUT_OF_SERVICE in kinds and EventKind.PRINTER_IN_SERVICE in kinds


def test_an_unknown_control_is_refused(operator_client: Client, printing: PrintRun) -> None:
    url = f"/operator/printers/{printing.printer_id}/control/"
    operator_client.post(url, {"control": "clear_error"})
    assert not Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED).exists()


def test_no_secret_is_on_the_page(operator_client: Client, make_printer: Any) -> None:
    from printers.secrets import encrypt

    printer = make_printer(
        "octo-1",
        connection_kind="octoprint",
        connection_settings={"url": "http://127.0.0.1:1"},
        secret_encrypted=encrypt("API-KEY-SECRET-123"),
    )
    page = operator_client.get(f"/operator/printers/{printer.pk}/").content.decode()
    assert "API-KEY-SECRET-123" not in page
    live = operator_client.get(f"/operator/printers/{printer.pk}/live.json").content.decode()
    assert "API-KEY-SECRET-123" not in live


def test_the_page_shows_the_printers_maintenance(
    operator_client: Client, operator: Any, printing: PrintRun
) -> None:
    schedule = MaintenanceSchedule.objects.create(
        task="Lubricate the Z rods", printer=printing.printer, every_runs=100
    )
    maintenance_log_work(
        printer=printing.printer, schedule=schedule, note="rods greased", actor=operator
    )
    page = operator_client.get(f"/operator/printers/{printing.printer_id}/").content.decode()
    assert "Lubricate the Z rods" in page and "rods greased" in page
