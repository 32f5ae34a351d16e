"""Filament inventory: a run's filament comes off the loaded spool (once), an empty spool
leaves its printer holding nothing (so the planner asks for a spool), stock against its
thresholds, and the Spoolman sync against a real HTTP server speaking its /api/v1/spool."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from farm.models import Material, Printer, PrintRun, Spool, SpoolUse, StockThreshold
from farm.services.runs import run_finish
from farm.services.spoolman import SpoolmanError, spoolman_sync
from farm.services.spools import spool_load, spool_use_for_run, stock_levels
from tests.farm.records_helpers import ended_run, queued_job


@pytest.fixture
def job(alice: Any, pla: Any) -> Any:
    return queued_job(alice, pla)


def test_a_finished_run_takes_its_filament_off_the_loaded_spool_once(
    job: Any, make_printer: Any, pla: Material, operator: Any
) -> None:
    printer = make_printer("p1")
    spool = Spool.objects.create(material=pla, colour="black", remaining_g=1000)
    spool_load(spool=spool, printer=printer, actor=operator)
    run = ended_run(job, printer)
    grams = job.grams_per_copy
    assert grams and grams > 0
    spool.refresh_from_db()
    assert spool.remaining_g == pytest.approx(1000 - grams)
    run_finish(run_id=run.pk)  # recorded again: nothing more is taken
    spool_use_for_run(run=PrintRun.objects.select_related("job").get(pk=run.pk))
    spool.refresh_from_db()
    assert spool.remaining_g == pytest.approx(1000 - grams)
    assert SpoolUse.objects.get().grams == pytest.approx(grams)


def test_a_failed_run_takes_what_it_printed(
    job: Any, make_printer: Any, pla: Material, operator: Any
) -> None:
    printer = make_printer("p1")
    spool = Spool.objects.create(material=pla, colour="black", remaining_g=1000)
    spool_load(spool=spool, printer=printer, actor=operator)
    ended_run(job, printer, fail="spaghetti", progress=0.25)
    spool.refresh_from_db()
    assert spool.remaining_g == pytest.approx(1000 - job.grams_per_copy * 0.25)


def test_an_empty_spool_leaves_the_printer_holding_nothing(
    job: Any, make_printer: Any, pla: Material, operator: Any
) -> None:
    printer = make_printer("p1")
    spool = Spool.objects.create(material=pla, colour="black", remaining_g=1)
    spool_load(spool=spool, printer=printer, actor=operator)
    ended_run(job, printer)
    printer.refresh_from_db()
    spool.refresh_from_db()
    assert spool.printer is None and spool.remaining_g < 0
    # What the planner reads: no material loaded, so it plans a filament change first.
    assert printer.material is None and printer.colour == ""


def test_loading_a_spool_sets_what_the_printer_holds(
    make_printer: Any, pla: Material, operator: Any
) -> None:
    petg = Material.objects.create(name="PETG")
    printer = make_printer("p1")
    old = Spool.objects.create(material=pla, colour="black", printer=printer)
    new = Spool.objects.create(material=petg, colour="red")
    spool_load(spool=new, printer=printer, actor=operator)
    printer.refresh_from_db()
    old.refresh_from_db()
    assert (printer.material, printer.colour) == (petg, "red")
    assert old.printer is None
    assert Spool.objects.get(pk=new.pk).printer == printer
    empty = Spool.objects.create(material=petg, colour="red", remaining_g=0)
    with pytest.raises(ValidationError):
        spool_load(spool=empty, printer=printer, actor=operator)


def test_stock_below_its_threshold_is_low(pla: Material) -> None:
    Spool.objects.create(material=pla, colour="black", remaining_g=300)
    Spool.objects.create(material=pla, colour="black", remaining_g=400)
    Spool.objects.create(material=pla, colour="white", remaining_g=2000)
    Spool.objects.create(material=pla, colour="white", remaining_g=900, archived=True)
    StockThreshold.objects.create(material=pla, colour="black", min_g=1000)
    StockThreshold.objects.create(material=pla, colour="red", min_g=500)
    StockThreshold.objects.create(material=pla, colour="", min_g=2500)
    levels = {(s.material, s.colour): s for s in stock_levels()}
    assert levels[("PLA", "black")].grams == 700 and levels[("PLA", "black")].low
    assert levels[("PLA", "red")].grams == 0 and levels[("PLA", "red")].low
    assert levels[("PLA", "white")].grams == 2000 and not levels[("PLA", "white")].low
    assert levels[("PLA", "")].grams == 2700 and not levels[("PLA", "")].low


class FakeSpoolman:
    """A real HTTP server answering Spoolman's GET /api/v1/spool and PUT .../use."""

    def __init__(self) -> None:
        self.spools: list[dict[str, Any]] = [
            {
                "id": 7,
                "registered": "2026-01-01T00:00:00Z",
                "filament": {
                    "id": 1,
                    "name": "black",
                    "material": "PLA",
                    "density": 1.24,
                    "diameter": 1.75,
                    "weight": 1000,
                    "vendor": {"id": 1, "name": "Polymaker", "registered": "2026-01-01T00:00:00Z"},
                },
                "remaining_weight": 800.0,
                "initial_weight": 1000.0,
                "used_weight": 200.0,
                "location": "Shelf A",
                "archived": False,
                "extra": {},
            },
            {
                "id": 8,
                "filament": {"id": 2, "material": "Unobtainium", "density": 1, "diameter": 1.75},
                "remaining_weight": 500.0,
                "used_weight": 0,
                "archived": False,
                "extra": {},
            },
        ]
        self.uses: list[tuple[int, float]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/api/v1/spool":
                    self._send(200, owner.spools)
                else:
                    self._send(404, {"message": "not found"})

            def do_PUT(self) -> None:
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if parts[:3] == ["api", "v1", "spool"] and parts[4:] == ["use"]:
                    spool = next((s for s in owner.spools if s["id"] == int(parts[3])), None)
                    if spool is None:
                        self._send(404, {"message": "no such spool"})
                        return
                    owner.uses.append((spool["id"], body["use_weight"]))
                    spool["remaining_weight"] -= body["use_weight"]
                    spool["used_weight"] += body["use_weight"]
                    self._send(200, spool)
                else:
                    self._send(404, {"message": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def spoolman() -> Iterator[FakeSpoolman]:
    fake = FakeSpoolman()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_spoolman_spools_are_brought_in_and_runs_reported(
    spoolman: FakeSpoolman, job: Any, make_printer: Any, pla: Material, operator: Any
) -> None:
    result = spoolman_sync(base_url=spoolman.url)
    assert (result.created, result.skipped) == (1, 1)
    spool = Spool.objects.get(spoolman_id=7)
    assert (spool.material, spool.colour, spool.vendor) == (pla, "black", "Polymaker")
    assert (spool.remaining_g, spool.location) == (800.0, "Shelf A")

    printer = make_printer("p1")
    spool_load(spool=spool, printer=printer, actor=operator)
    ended_run(job, printer)
    result = spoolman_sync(base_url=spoolman.url)
    assert result.pushed == 1 and result.updated == 1
    assert spoolman.uses == [(7, pytest.approx(job.grams_per_copy, abs=1e-3))]
    spool.refresh_from_db()
    assert spool.remaining_g == pytest.approx(800 - job.grams_per_copy, abs=1e-3)
    assert spool.location == "p1"  # loaded: the printer is its place
    assert spoolman_sync(base_url=spoolman.url).pushed == 0  # reported once


def test_a_failed_report_is_sent_again(
    spoolman: FakeSpoolman, job: Any, make_printer: Any, pla: Material, operator: Any
) -> None:
    spoolman_sync(base_url=spoolman.url)
    spool = Spool.objects.get(spoolman_id=7)
    spool_load(spool=spool, printer=make_printer("p1"), actor=operator)
    ended_run(job, Printer.objects.get(name="p1"))
    with pytest.raises(SpoolmanError):
        spoolman_sync(base_url="http://127.0.0.1:9")  # nothing listens there
    assert SpoolUse.objects.get().spoolman_pushed_at is None
    assert spoolman_sync(base_url=spoolman.url).pushed == 1


def test_an_interrupted_print_accepted_as_good_takes_its_filament(
    job: Any, make_printer: Any, pla: Material, operator: Any
) -> None:
    from farm.services.doubt import run_accept
    from farm.services.runs import run_start
    from farm.statuses import RunStatus
    from tests.farm.helpers import claim

    printer = make_printer("p1")
    spool = Spool.objects.create(material=pla, colour="black", remaining_g=1000)
    spool_load(spool=spool, printer=printer, actor=operator)
    run = claim(job, printer)
    run_start(run_id=run.pk)
    PrintRun.objects.filter(pk=run.pk).update(status=RunStatus.INTERRUPTED)
    run_accept(run=run, actor=operator)
    spool.refresh_from_db()
    assert spool.remaining_g == pytest.approx(1000 - job.grams_per_copy)


def test_a_request_for_filament_out_of_stock_is_withdrawn_for_the_planner(
    make_printer: Any, pla: Material
) -> None:
    from farm.models import FilamentDecline
    from farm.services.spools import out_of_stock_declines
    from farm.services.work_lists import filament_declines_active

    asks_red = make_printer("p1", requested_material=pla, requested_colour="red")
    asks_white = make_printer("p2", requested_material=pla, requested_colour="white")
    petg = Material.objects.create(name="PETG")
    asks_petg = make_printer("p3", requested_material=petg, requested_colour="black")
    Spool.objects.create(material=pla, colour="white", remaining_g=800)
    Spool.objects.create(material=pla, colour="red", remaining_g=800, printer=make_printer("p4"))
    # Red is only on another printer; white is on the shelf; PETG is not tracked at all.
    assert out_of_stock_declines() == 1
    asks_red.refresh_from_db()
    assert asks_red.requested_material is None
    decline = FilamentDecline.objects.get()
    assert (decline.printer, decline.colour, decline.reason) == (asks_red, "red", "out of stock")
    assert filament_declines_active() == {asks_red.pk: frozenset({("PLA", "red")})}
    assert Printer.objects.get(pk=asks_white.pk).requested_colour == "white"
    assert Printer.objects.get(pk=asks_petg.pk).requested_material == petg
    assert out_of_stock_declines() == 0  # withdrawn once
