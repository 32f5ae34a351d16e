"""The records pages through the real views: maintenance, filament, statistics (with their
CSV), notifications (a channel's URL never shown)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from farm.models import (
    MaintenanceLog,
    MaintenanceSchedule,
    NotificationChannel,
    Spool,
    StockThreshold,
)
from farm.services.notifications import channel_save
from tests.farm.records_helpers import ended_run, queued_job

SECRET_URL = "json://127.0.0.1:9/hooks/s3cr3t-token"


@pytest.fixture
def olga(operator: Any) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def test_the_maintenance_page_shows_what_is_due_and_logs_work(
    olga: Client, make_printer: Any, alice: Any, pla: Any
) -> None:
    p1 = make_printer("p1")
    schedule = MaintenanceSchedule.objects.create(
        task="Grease the Z rods", printer=p1, every_runs=1
    )
    MaintenanceSchedule.objects.filter(pk=schedule.pk).update(
        created_at=schedule.created_at.replace(year=schedule.created_at.year - 1)
    )
    ended_run(queued_job(alice, pla), p1)
    page = olga.get(reverse("maintenance")).content.decode()
    assert "Grease the Z rods" in page and "overdue" in page and "1 of 1 runs" in page
    response = olga.post(
        reverse("maintenance-work"),
        {"printer": p1.pk, "schedule": schedule.pk, "note": "greased"},
    )
    assert response.status_code == 302
    entry = MaintenanceLog.objects.get()
    assert entry.note == "greased" and entry.done_by is not None
    assert "greased" in olga.get(reverse("maintenance")).content.decode()


def test_the_spools_page_adds_loads_and_warns(olga: Client, make_printer: Any, pla: Any) -> None:
    printer = make_printer("p1")
    StockThreshold.objects.create(material=pla, colour="red", min_g=2000)
    olga.post(
        reverse("spools"),
        {
            "material": pla.pk,
            "colour": "red",
            "vendor": "Prusament",
            "initial_g": 1000,
            "location": "B-3",
        },
    )
    spool = Spool.objects.get()
    assert spool.remaining_g == 1000
    page = olga.get(reverse("spools")).content.decode()
    assert "Prusament" in page and "low" in page
    olga.post(reverse("spool-action", args=[spool.pk, "load"]), {"printer": "p1"})
    printer.refresh_from_db()
    assert printer.colour == "red"
    assert Spool.objects.get().printer == printer


def test_the_stats_page_draws_with_the_vendored_chart_library(
    olga: Client, make_printer: Any, alice: Any, pla: Any
) -> None:
    ended_run(queued_job(alice, pla), make_printer("p1"), fail="warped")
    response = olga.get(reverse("stats"), {"site": "berlin"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "/static/farm/vendor/uplot/uPlot.iife.min.js" in page
    assert 'id="stats-data"' in page and "Throughput per day" in page
    assert "http://" not in page.split("<main>")[1].split("stats-data")[0]  # no CDN


@pytest.mark.parametrize(
    "section", ["throughput", "utilisation", "outcomes", "failures", "sla", "estimates", "filament"]
)
def test_each_table_exports_as_csv(
    olga: Client, section: str, make_printer: Any, alice: Any, pla: Any
) -> None:
    ended_run(queued_job(alice, pla), make_printer("p1"), fail="=HYPERLINK(1)")
    response = olga.get(reverse("stats-csv", args=[section]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0]  # the header
    if section == "failures":
        assert rows[1][0] == "'=HYPERLINK(1)"  # no formula for a spreadsheet to run


def test_an_unknown_csv_is_not_found(olga: Client) -> None:
    assert olga.get(reverse("stats-csv", args=["secrets"])).status_code == 404


def test_a_channel_url_is_never_shown(alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    response = client.post(
        reverse("notifications"),
        {"name": "hook", "url": SECRET_URL, "events": ["job_done"]},
    )
    assert response.status_code == 302
    channel = NotificationChannel.objects.get()
    page = client.get(reverse("notifications")).content.decode()
    assert "hook" in page and "json://127.0.0.1/…" in page
    assert "s3cr3t" not in page
    assert "low_stock" not in page  # an employee is offered her jobs' events only
    client.post(reverse("notification-action", args=[channel.pk, "test"]))
    assert "Test from the farm" in client.get(reverse("notifications")).content.decode()


def test_an_employee_cannot_choose_the_farms_events(alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    client.post(reverse("notifications"), {"url": SECRET_URL, "events": ["low_stock"]})
    assert not NotificationChannel.objects.exists()


def test_the_admin_keeps_a_channel_url_write_only(admin_user: Any, operator: Any) -> None:
    channel = channel_save(user=operator, name="x", url=SECRET_URL, events=["site_down"])
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("admin:farm_notificationchannel_change", args=[channel.pk]))
    assert page.status_code == 200 and "s3cr3t" not in page.content.decode()
