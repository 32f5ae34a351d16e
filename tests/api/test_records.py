"""Spools, stock, statistics and the plan through the API: the web pages' services, with the
web's role rules (spools and statistics for operators; the plan's runs of one's own jobs)."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from farm.models import Material, Spool, StockThreshold
from farm.scheduling import Assignment
from farm.services.plan_store import previous_plan_store
from farm.services.spools import spool_load
from farm.services.submission import job_submit
from tests.api.conftest import token_client
from tests.farm.records_helpers import ended_run, queued_job


def test_an_operator_lists_spools_with_their_printer_and_filters_them(
    operator: User, pla: Material, make_printer: Any
) -> None:
    printer = make_printer("berlin-01")
    loaded = Spool.objects.create(material=pla, colour="black", remaining_g=640, location="B-3")
    spool_load(spool=loaded, printer=printer, actor=operator)
    petg = Material.objects.create(name="PETG")
    Spool.objects.create(material=petg, colour="red", remaining_g=900)
    Spool.objects.create(material=pla, colour="white", archived=True)
    client = token_client(operator)

    shelf = client.get("/api/v1/spools/").json()["results"]
    assert [(s["material"], s["colour"], s["printer"]) for s in shelf] == [
        ("PETG", "red", None),
        ("PLA", "black", "berlin-01"),
    ]
    only_pla = client.get("/api/v1/spools/?material=pla").json()["results"]
    assert [s["id"] for s in only_pla] == [loaded.pk]
    archived = client.get("/api/v1/spools/?archived=true").json()["results"]
    assert [s["colour"] for s in archived] == ["white"]
    one = client.get(f"/api/v1/spools/{loaded.pk}/").json()
    assert (one["remaining_g"], one["location"]) == (640, "berlin-01")  # loading moves it


def test_stock_says_what_is_below_its_threshold(operator: User, pla: Material) -> None:
    Spool.objects.create(material=pla, colour="grey", remaining_g=180)
    Spool.objects.create(material=pla, colour="black", remaining_g=900)
    StockThreshold.objects.create(material=pla, colour="grey", min_g=500)
    stock = token_client(operator).get("/api/v1/stock/").json()
    assert stock[0] == {
        "material": "PLA",
        "colour": "grey",
        "grams": 180.0,
        "spools": 1,
        "threshold": 500.0,
        "low": True,
    }
    assert (stock[1]["colour"], stock[1]["low"]) == ("black", False)


def test_employees_get_no_spools_stock_or_statistics(alice: User, pla: Material) -> None:
    spool = Spool.objects.create(material=pla, colour="black")
    client = token_client(alice)
    for path in ("/api/v1/spools/", f"/api/v1/spools/{spool.pk}/", "/api/v1/stock/"):
        assert client.get(path).status_code == 403, path
    assert client.get("/api/v1/reports/").status_code == 403


def test_the_report_has_the_stats_pages_tables_for_the_period(
    operator: User, alice: User, pla: Material, make_printer: Any
) -> None:
    job = queued_job(alice, pla)
    printer = make_printer("p1")
    ended_run(job, printer, hours=2, ended_ago=datetime.timedelta(hours=2))
    ended_run(job, printer, hours=1, ended_ago=datetime.timedelta(hours=5), fail="nozzle clog")
    today = timezone.localdate()
    client = token_client(operator)

    report = client.get(f"/api/v1/reports/?start={today}&end={today}&sla=3").json()
    assert (report["start"], report["end"], report["site"], report["sla_days"]) == (
        today.isoformat(),
        today.isoformat(),
        None,
        3.0,
    )
    tables = report["tables"]
    assert set(tables) == {
        "throughput",
        "utilisation",
        "outcomes",
        "failures",
        "sla",
        "estimates",
        "filament",
    }
    assert tables["throughput"]["columns"] == ["day", "pieces", "runs printed", "runs failed"]
    assert tables["throughput"]["rows"] == [[today.isoformat(), 1, 1, 1]]
    assert tables["failures"]["rows"] == [["nozzle clog", 1]]

    # A period with nothing in it, and one table only.
    last_year = today - datetime.timedelta(days=400)
    quiet = client.get(f"/api/v1/reports/?start={last_year}&end={last_year}&section=failures")
    assert list(quiet.json()["tables"]) == ["failures"]
    assert quiet.json()["tables"]["failures"]["rows"] == []
    # Dates that are not dates read as the last 30 days, as on the page.
    default = client.get("/api/v1/reports/?start=yesterday").json()
    assert len(default["tables"]["throughput"]["rows"]) == 30


def test_the_plan_shows_operators_every_run_and_employees_their_own(
    alice: User, bob: User, operator: User, pla: Material, make_printer: Any, cube_upload: Any
) -> None:
    p1, p2 = make_printer("berlin-01"), make_printer("berlin-02")
    alices = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=3)
    bobs = job_submit(owner=bob, upload=cube_upload(), material=pla, quantity=1)
    now = timezone.now().timestamp()
    previous_plan_store(
        [
            Assignment(bobs.pk, p2.pk, 1, now + 600, now + 4200, True),
            Assignment(alices.pk, p1.pk, 2, now + 60, now + 3660),
            Assignment(alices.pk, p2.pk, 1, now + 4200, now + 7800),
        ]
    )
    every = token_client(operator).get("/api/v1/plan/").json()
    assert every["count"] == 3
    first = every["results"][0]
    assert (first["job"], first["job_name"], first["printer_name"], first["site"]) == (
        alices.pk,
        "cube.stl",
        "berlin-01",
        "berlin",
    )
    assert first["copies"] == 2 and first["material_change"] is False
    assert first["planned_start"] == datetime.datetime.fromtimestamp(
        now + 60, tz=datetime.UTC
    ).isoformat().replace("+00:00", "Z")
    assert [r["job"] for r in every["results"]] == [alices.pk, bobs.pk, alices.pk]

    mine = token_client(alice).get("/api/v1/plan/").json()["results"]
    assert [(r["job"], r["printer_name"]) for r in mine] == [
        (alices.pk, "berlin-01"),
        (alices.pk, "berlin-02"),
    ]
    assert token_client(bob).get(f"/api/v1/plan/?job={alices.pk}").json()["results"] == []
    one_job = token_client(operator).get(f"/api/v1/plan/?job={bobs.pk}").json()["results"]
    assert [(r["job"], r["material_change"]) for r in one_job] == [(bobs.pk, True)]
    assert token_client(operator).get("/api/v1/plan/?job=x").json()["results"] == []
