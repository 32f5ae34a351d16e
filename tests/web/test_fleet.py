"""The fleet view: filters, search, natural sort, grouping, and live updates through the
change feed (only changed printers are sent; an old cursor gets a full refresh)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from farm.models import Material, Printer, Site
from farm.services.fleet_feed import (
    FEED_TTL_SECONDS,
    batch_key,
    fleet_changes_publish,
    fleet_changes_since,
    fleet_cursor_now,
)
from farm.services.fleet_view import ATTENTION_GROUP, natural_key
from farm.services.observation import printers_live_record
from printers.drivers.base import DeviceStatus
from printers.states import DeviceState


def names_in_order(content: bytes) -> list[str]:
    return re.findall(r"<strong>([a-z]+-\d+)</strong>", content.decode())


@pytest.fixture
def floor(make_printer: Any, site: Site, pla: Material) -> dict[str, Printer]:
    lyon = Site.objects.create(name="Lyon", slug="lyon", timezone="Europe/Paris")
    petg = Material.objects.create(name="PETG")
    made = {
        "berlin-10": make_printer("berlin-10", row="R1", position=3),
        "berlin-2": make_printer("berlin-2", row="R1", position=2, tags="enclosed"),
        "berlin-1": make_printer("berlin-1", row="R2", position=1, model="Prusa MINI+"),
        "lyon-1": make_printer("lyon-1", site=lyon, row="R1", material=petg),
        "lyon-2": make_printer("lyon-2", site=lyon, row="R1", state="error"),
    }
    return made


@pytest.fixture
def operator_client(client: Client, operator: Any) -> Client:
    client.force_login(operator)
    return client


def test_names_sort_naturally() -> None:
    names = ["berlin-10", "berlin-2", "Berlin-1", "berlin-2a", "lyon-1"]
    assert sorted(names, key=natural_key) == [
        "Berlin-1",
        "berlin-2",
        "berlin-2a",
        "berlin-10",
        "lyon-1",
    ]


def test_it_puts_attention_first_then_groups_by_site_and_row_in_walking_order(
    operator_client: Client, floor: dict[str, Printer]
) -> None:
    content = operator_client.get("/operator/fleet/").content
    assert names_in_order(content) == ["lyon-2", "berlin-2", "berlin-10", "berlin-1", "lyon-1"]
    headings = re.findall(r'<h2 class="group">([^<]+) <span', content.decode())
    assert headings == [ATTENTION_GROUP, "Berlin · row R1", "Berlin · row R2", "Lyon · row R1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("site=Lyon", ["lyon-2", "lyon-1"]),
        ("state=error", ["lyon-2"]),
        ("state=attention", ["lyon-2"]),
        ("material=PETG", ["lyon-1"]),
        ("model=Prusa+MINI%2B", ["berlin-1"]),
        ("tag=enclosed", ["berlin-2"]),
        ("q=berlin-1", ["berlin-10", "berlin-1"]),
        ("q=R2", ["berlin-1"]),
        ("site=Berlin&state=ready&q=10", ["berlin-10"]),
    ],
)
def test_it_filters(
    operator_client: Client, floor: dict[str, Printer], query: str, expected: list[str]
) -> None:
    content = operator_client.get(f"/operator/fleet/?{query}").content
    assert names_in_order(content) == expected


def test_counts_per_state_are_links_that_filter(
    operator_client: Client, floor: dict[str, Printer]
) -> None:
    content = operator_client.get("/operator/fleet/?site=Berlin").content.decode()
    assert 'data-count="ready">ready: <span>3</span>' in content
    assert 'href="?site=Berlin&amp;state=ready"' in content
    assert 'data-count="attention"' in content


def test_a_large_farm_is_paginated(operator_client: Client, site: Site, pla: Material) -> None:
    Printer.objects.bulk_create(
        Printer(name=f"p-{i}", site=site, model="M", material=pla, state="ready")
        for i in range(300)
    )
    first = operator_client.get("/operator/fleet/").content
    assert len(names_in_order(first)) == 120
    assert names_in_order(first)[:3] == ["p-0", "p-1", "p-2"]
    last = operator_client.get("/operator/fleet/?page=3").content
    assert names_in_order(last)[-1] == "p-299" and len(names_in_order(last)) == 60


def _changes(client: Client, cursor: str, ids: list[int]) -> dict[str, Any]:
    response = client.get(
        "/operator/fleet/changes/", {"cursor": cursor, "ids": ",".join(map(str, ids))}
    )
    assert response.status_code == 200
    return json.loads(response.content)


def test_a_live_update_sends_only_the_printers_that_changed(
    operator_client: Client, floor: dict[str, Printer]
) -> None:
    content = operator_client.get("/operator/fleet/").content.decode()
    cursor = re.search(r'data-cursor="([^"]+)"', content).group(1)  # type: ignore[union-attr]
    shown = [p.pk for p in floor.values()]
    quiet = _changes(operator_client, cursor, shown)
    assert quiet["full"] is False and quiet["cards"] == {}
    printing = DeviceStatus(state=DeviceState.PRINTING, job_name="x.gcode", progress=0.4)
    printers_live_record([(floor["berlin-2"].pk, printing, timezone.now())])
    answer = _changes(operator_client, quiet["cursor"], shown)
    assert list(answer["cards"]) == [str(floor["berlin-2"].pk)]
    assert "state-printing" in answer["cards"][str(floor["berlin-2"].pk)]
    assert answer["counts"]["ready"] == 4  # berlin-2 is still ready in the database
    # Seen once: the next update is empty again.
    assert _changes(operator_client, answer["cursor"], shown)["cards"] == {}


def test_a_change_to_a_printer_the_client_does_not_show_sends_no_card(
    operator_client: Client, floor: dict[str, Printer]
) -> None:
    cursor = fleet_cursor_now()
    fleet_changes_publish([floor["lyon-1"].pk])
    answer = _changes(operator_client, cursor, [floor["berlin-1"].pk])
    assert answer["cards"] == {} and answer["changed"] == 1


def test_an_operator_action_publishes_the_printer(
    operator_client: Client, floor: dict[str, Printer]
) -> None:
    printer = floor["berlin-1"]
    Printer.objects.filter(pk=printer.pk).update(bed_clear=False, state="finished")
    cursor = fleet_cursor_now()
    response = operator_client.post(
        f"/operator/printers/{printer.pk}/clear/",
        HTTP_REFERER="http://testserver/operator/fleet/?site=Berlin",
    )
    assert response.status_code == 302 and response["Location"].endswith(
        "/operator/fleet/?site=Berlin"
    )
    assert fleet_changes_since(cursor).printer_ids == {printer.pk}


def test_an_expired_or_foreign_cursor_gets_a_full_refresh(floor: dict[str, Printer]) -> None:
    cursor = fleet_cursor_now()
    epoch, version, issued = cursor.split(".")
    old = f"{epoch}.{version}.{int(issued) - FEED_TTL_SECONDS - 1}"
    assert fleet_changes_since(old).full
    assert fleet_changes_since("garbage").full
    assert fleet_changes_since(f"other.{version}.{issued}").full
    assert not fleet_changes_since(cursor).full


def test_a_lost_batch_ends_in_a_full_refresh_not_a_stuck_client(floor: dict[str, Printer]) -> None:
    epoch, version, issued = fleet_cursor_now().split(".")
    fleet_changes_publish([floor["lyon-1"].pk])
    fleet_changes_publish([floor["lyon-2"].pk])
    cache.delete(batch_key(int(version) + 1))  # evicted
    recent = fleet_changes_since(f"{epoch}.{version}.{issued}")
    assert not recent.full and recent.printer_ids == set()  # maybe still being written
    held_up = f"{epoch}.{version}.{int(issued) - 31}"
    assert fleet_changes_since(held_up).full


def test_a_cache_restart_gets_a_full_refresh(floor: dict[str, Printer]) -> None:
    cursor = fleet_cursor_now()
    cache.clear()
    fleet_changes_publish([floor["lyon-1"].pk])
    assert fleet_changes_since(cursor).full


def test_the_dashboard_of_a_large_farm_shows_only_the_printers_that_need_someone(
    operator_client: Client, site: Site, pla: Material
) -> None:
    Printer.objects.bulk_create(
        Printer(name=f"p-{i}", site=site, model="M", material=pla, state="ready")
        for i in range(150)
    )
    Printer.objects.filter(name__in=["p-7", "p-70"]).update(state="error")
    content = operator_client.get("/operator/?partial=1").content
    assert names_in_order(content) == ["p-7", "p-70"]
    assert b"148 more printers in the fleet view" in content
    assert b"ready: 148" in content


def test_seed_demo_builds_a_large_farm_with_rows_and_natural_names(
    db: Any, settings: Any, tmp_path: Any
) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", printers=130, stdout=StringIO())
    assert Printer.objects.count() == 130
    assert Site.objects.count() >= 3
    berlin = Printer.objects.filter(site__slug="berlin")
    assert {"berlin-2", "berlin-10", "berlin-44"} <= set(berlin.values_list("name", flat=True))
    assert berlin.get(name="berlin-21").row == "R2" and berlin.get(name="berlin-21").position == 1
    assert Printer.objects.filter(tags__contains="enclosed").exists()
