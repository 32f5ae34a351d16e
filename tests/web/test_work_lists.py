"""The floor's work lists: beds to clear and filament to change, in walking order or by what
they unblock; one tap or several confirmed at once (form POST, or fetch with JSON); a
declined filament change the planner then plans around."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from farm.models import Event, FilamentDecline, Job, Material, Printer, Site
from farm.models.event import EventKind
from farm.services.preparation import job_prepare
from farm.services.runs import run_fail, run_start
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.services.work_lists import (
    UNBLOCKS,
    filament_decline,
    filament_declines_active,
    work_lists,
)
from tests.farm.helpers import claim


def prepared(owner: Any, material: Material, upload: Any, **fields: Any) -> Job:
    job = job_submit(owner=owner, upload=upload, material=material, quantity=1, **fields)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def operator_client(client: Client, operator: Any) -> Client:
    client.force_login(operator)
    return client


@pytest.fixture
def petg(db: Any) -> Material:
    return Material.objects.create(name="PETG")


@pytest.fixture
def asked(
    alice: Any, pla: Material, petg: Material, cube_upload: Any, make_printer: Any
) -> tuple[Printer, Job]:
    """A printer holding black PETG, asked by the planner to load red PLA for a job."""
    printer = make_printer("p1", material=petg, colour="black")
    job = prepared(alice, pla, cube_upload(), colour="red")
    assert schedule_pass().filament_requests == 1
    printer.refresh_from_db()
    assert (printer.requested_material, printer.requested_colour) == (pla, "red")
    return printer, job


def test_beds_are_listed_in_walking_order(make_printer: Any, site: Site) -> None:
    lyon = Site.objects.create(name="Lyon", slug="lyon")
    make_printer("berlin-10", row="R1", position=10, bed_clear=False)
    make_printer("berlin-2", row="R1", position=2, bed_clear=False)
    make_printer("berlin-1", row="R2", position=1, bed_clear=False)
    make_printer("lyon-1", site=lyon, row="R1", position=1, bed_clear=False)
    make_printer("clear-one")  # nothing on its bed: not listed
    beds = work_lists().beds
    assert [t.printer for t in beds] == ["berlin-2", "berlin-10", "berlin-1", "lyon-1"]
    assert [t.printer for t in work_lists(site="lyon").beds] == ["lyon-1"]


def test_the_task_unblocking_most_work_comes_first_when_asked(
    alice: Any, pla: Material, petg: Material, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("a-1", position=1, bed_clear=False, material=petg)
    make_printer("a-2", position=2, bed_clear=False)  # holds PLA, which the job needs
    job = prepared(alice, pla, cube_upload(), colour="black")
    by_route = work_lists().beds
    assert [t.printer for t in by_route] == ["a-1", "a-2"]
    by_work = work_lists(order=UNBLOCKS).beds
    assert [t.printer for t in by_work] == ["a-2", "a-1"]
    assert by_work[0].unblocks_jobs == 1 and by_work[0].unblocks_seconds > 0
    assert by_work[0].job_id is None  # nothing recorded of what is on a bed set by hand
    assert job.pk


def test_a_filament_task_names_the_job_it_is_for(
    operator_client: Client, asked: tuple[Printer, Job]
) -> None:
    printer, job = asked
    [task] = work_lists().filament
    assert (task.printer_id, task.material, task.colour, task.job_id) == (
        printer.pk,
        "PLA",
        "red",
        job.pk,
    )
    page = operator_client.get("/operator/work/").content.decode()
    assert "Load PLA red" in page and f"#{job.pk}" in page


def test_several_beds_are_confirmed_at_once_with_a_plain_form(
    operator_client: Client, make_printer: Any
) -> None:
    printers = [make_printer(f"p{i}", bed_clear=False) for i in range(5)]
    response = operator_client.post(
        "/operator/work/beds/", {"printer": [p.pk for p in printers[:4]]}
    )
    assert response.status_code == 302 and response["Location"] == "/operator/work/"
    cleared = set(Printer.objects.filter(bed_clear=True).values_list("name", flat=True))
    assert cleared == {"p0", "p1", "p2", "p3"}
    assert Event.objects.filter(kind=EventKind.PRINTER_BED_CLEARED).count() == 4


def test_one_tap_confirms_only_its_own_bed(operator_client: Client, make_printer: Any) -> None:
    one, other = make_printer("p1", bed_clear=False), make_printer("p2", bed_clear=False)
    # The other box was ticked, but the tap was on p1's own button.
    operator_client.post("/operator/work/beds/", {"printer": [other.pk], "one": one.pk})
    assert Printer.objects.get(pk=one.pk).bed_clear
    assert not Printer.objects.get(pk=other.pk).bed_clear


def test_fetch_gets_json_and_no_reload(operator_client: Client, make_printer: Any) -> None:
    one, two = make_printer("p1", bed_clear=False), make_printer("p2", bed_clear=False)
    response = operator_client.post(
        "/operator/work/beds/",
        {"printer": [one.pk, two.pk, 999999]},
        headers={"accept": "application/json"},
    )
    answer = json.loads(response.content)
    assert response.status_code == 200
    assert set(answer["done"]) == {one.pk, two.pk}
    assert answer["failed"] == {"999999": "no such printer"}


def test_filament_loaded_from_the_list(
    operator_client: Client, asked: tuple[Printer, Job], pla: Material
) -> None:
    printer, _ = asked
    operator_client.post("/operator/work/filament/", {"one": printer.pk})
    printer.refresh_from_db()
    assert (printer.material, printer.colour, printer.requested_material) == (pla, "red", None)


def test_a_declined_filament_change_is_planned_around(
    operator_client: Client,
    asked: tuple[Printer, Job],
    pla: Material,
    petg: Material,
    make_printer: Any,
) -> None:
    first, job = asked
    response = operator_client.post(
        f"/operator/work/filament/{first.pk}/decline/", {"reason": "no red spool", "hours": "8"}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.requested_material is None
    decline = FilamentDecline.objects.get()
    assert (decline.job_id, decline.reason) == (job.pk, "no red spool")
    assert filament_declines_active() == {first.pk: frozenset({("PLA", "red")})}
    assert Event.objects.filter(kind=EventKind.PRINTER_FILAMENT_DECLINED).count() == 1

    result = schedule_pass()  # the only printer declined: nothing to ask, the job says why
    first.refresh_from_db()
    assert first.requested_material is None and result.filament_requests == 0
    job.refresh_from_db()
    assert "declined" in job.plan_note

    second = make_printer("p2", material=petg, colour="white")
    schedule_pass()  # another printer is asked instead
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.requested_material, first.requested_material) == (pla, None)


def test_a_decline_ends_and_loading_it_after_all_lifts_it(
    operator: Any, asked: tuple[Printer, Job], pla: Material
) -> None:
    printer, _ = asked
    filament_decline(printer=printer, actor=operator, hours=1)
    later = timezone.now() + datetime.timedelta(hours=2)
    assert filament_declines_active(later) == {}
    assert filament_declines_active() != {}
    Printer.objects.filter(pk=printer.pk).update(material=pla, colour="Red")
    assert filament_declines_active() == {}  # someone loaded it after all


def test_a_decline_without_a_request_is_refused(operator_client: Client, make_printer: Any) -> None:
    printer = make_printer("p1")
    operator_client.post(f"/operator/work/filament/{printer.pk}/decline/", {"hours": "8"})
    assert not FilamentDecline.objects.exists()
    page = operator_client.get("/operator/work/").content.decode()
    assert "no filament change is asked for" in page


def test_the_page_lists_both_and_posts_with_csrf(make_printer: Any, operator: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    printer = make_printer("p1", bed_clear=False)
    page = client.get("/operator/work/").content.decode()
    assert re.search(r'name="csrfmiddlewaretoken"', page)
    assert f'value="{printer.pk}"' in page
    assert client.post("/operator/work/beds/", {"printer": [printer.pk]}).status_code == 403


def test_a_decline_is_listed_and_lifted(
    operator_client: Client, asked: tuple[Printer, Job], pla: Material
) -> None:
    printer, _ = asked
    operator_client.post(
        f"/operator/work/filament/{printer.pk}/decline/", {"reason": "no red spool"}
    )
    page = operator_client.get("/operator/work/").content.decode()
    assert "Declined filament changes" in page and "no red spool" in page
    operator_client.post("/operator/work/declines/lift/", {"one": printer.pk})
    assert filament_declines_active() == {}
    assert Event.objects.filter(kind=EventKind.PRINTER_FILAMENT_DECLINE_LIFTED).count() == 1
    schedule_pass()  # asked again
    printer.refresh_from_db()
    assert printer.requested_material == pla


def test_a_long_list_shows_its_first_items_and_says_how_many(
    operator_client: Client, make_printer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("farm.services.work_lists.LIST_LIMIT", 3)
    for i in range(5):
        make_printer(f"p{i}", position=i, bed_clear=False)
    lists = work_lists()
    assert [t.printer for t in lists.beds] == ["p0", "p1", "p2"] and lists.beds_total == 5
    assert "The first 3 of 5" in operator_client.get("/operator/work/").content.decode()


def test_a_bed_says_what_is_on_it(
    operator_client: Client, alice: Any, pla: Material, cube_upload: Any, make_printer: Any
) -> None:
    printer = make_printer("p1")
    job = prepared(alice, pla, cube_upload(), colour="black")
    run = claim(job, printer)
    run_start(run_id=run.pk)
    run_fail(run_id=run.pk, reason="spaghetti")
    [task] = work_lists().beds
    assert (task.job_id, task.left_by) == (job.pk, "failed print of")
    assert (
        f'failed print of <a href="/jobs/{job.pk}/">'
        in operator_client.get("/operator/work/").content.decode()
    )
