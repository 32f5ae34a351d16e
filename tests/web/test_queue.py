"""The queue: waiting work with its planned printer and times, a page at a time; hold and
release (a held job is not planned), priority, site, cancel (asking first when prints would
be lost); the timeline of the next 24 hours; and bulk actions on jobs and on printers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from farm.models import Event, Job, Material, Printer, PrintRun, Site
from farm.models.event import EventKind
from farm.models.job import Priority
from farm.services.plan_store import PREVIOUS_PLAN_KEY
from farm.services.preparation import job_prepare
from farm.services.queue_plan import queue_plan
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.statuses import JobStatus, RunStatus
from tests.farm.helpers import claim


@pytest.fixture
def operator_client(client: Client, operator: Any) -> Client:
    client.force_login(operator)
    return client


@pytest.fixture
def queued(alice: Any, pla: Material, cube_upload: Any) -> Any:
    def make(quantity: int = 1, **fields: Any) -> Job:
        job = job_submit(
            owner=alice, upload=cube_upload(), material=pla, quantity=quantity, **fields
        )
        job_prepare(job_id=job.pk)
        return Job.objects.get(pk=job.pk)

    return make


def act(client: Client, action: str, jobs: list[Job], **extra: Any) -> Any:
    return client.post(
        "/operator/queue/act/", {"action": action, "job": [j.pk for j in jobs], **extra}
    )


def test_the_queue_shows_the_planned_printer_and_a_timeline(
    operator_client: Client, queued: Any, make_printer: Any
) -> None:
    printer = make_printer("berlin-1")
    Printer.objects.filter(pk=printer.pk).update(bed_clear=False)  # busy: the work waits
    job = queued(quantity=3)
    schedule_pass()
    page = operator_client.get("/operator/queue/").content.decode()
    assert f"#{job.pk}" in page
    assert f'href="/operator/printers/{printer.pk}/">berlin-1</a>' in page
    assert "<svg" in page and "<rect" in page and "planned" in page


def test_a_held_job_is_not_planned_until_released(
    operator_client: Client, queued: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = queued()
    operator_client.post("/operator/queue/act/", {"row": f"hold:{job.pk}"})
    job.refresh_from_db()
    assert job.held and job.planned_end is None and job.plan_note == "held by an operator"
    assert schedule_pass().runs_started == 0
    assert "held" in operator_client.get("/operator/queue/?held=yes").content.decode()
    operator_client.post("/operator/queue/act/", {"row": f"release:{job.pk}"})
    assert schedule_pass().runs_started == 1
    kinds = set(Event.objects.filter(job=job).values_list("kind", flat=True))
    assert {EventKind.JOB_HELD, EventKind.JOB_RELEASED} <= kinds


def test_priority_and_site_for_the_ticked_jobs(
    operator_client: Client, queued: Any, site: Site
) -> None:
    lyon = Site.objects.create(name="Lyon", slug="lyon")
    jobs = [queued(), queued(), queued()]
    act(operator_client, "priority", jobs[:2], priority=str(Priority.RUSH))
    assert [Job.objects.get(pk=j.pk).priority for j in jobs] == [2, 2, 0]
    act(operator_client, "site", jobs[1:], to_site="lyon")
    assert [Job.objects.get(pk=j.pk).site_id for j in jobs] == [None, lyon.pk, lyon.pk]
    act(operator_client, "site", jobs[1:2], to_site="")  # back to any site
    assert Job.objects.get(pk=jobs[1].pk).site_id is None
    moved = Event.objects.filter(kind=EventKind.JOB_MOVED).count()
    assert moved == 3


def test_cancelling_printing_jobs_asks_first(
    operator_client: Client, queued: Any, make_printer: Any
) -> None:
    waiting, printing = queued(), queued()
    claim(printing, make_printer("p1"))
    response = act(operator_client, "cancel", [waiting, printing])
    assert response.status_code == 200 and "parts lost" in response.content.decode()
    assert Job.objects.filter(status=JobStatus.CANCELLED).count() == 0
    act(operator_client, "cancel", [waiting, printing], confirmed="yes")
    assert Job.objects.filter(status=JobStatus.CANCELLED).count() == 2
    assert PrintRun.objects.get().status == RunStatus.CANCELLED


def test_cancelling_waiting_jobs_needs_no_question(operator_client: Client, queued: Any) -> None:
    jobs = [queued(), queued()]
    assert act(operator_client, "cancel", jobs).status_code == 302
    assert Job.objects.filter(status=JobStatus.CANCELLED).count() == 2


def test_the_queue_is_paginated(operator_client: Client, queued: Any) -> None:
    first = queued()
    Job.objects.bulk_create(
        Job(
            owner=first.owner,
            name=f"part-{i}",
            file=first.file.name,
            file_kind=first.file_kind,
            quantity=1,
            material=first.material,
            status=JobStatus.QUEUED,
        )
        for i in range(60)
    )
    page = operator_client.get("/operator/queue/").content.decode()
    assert "page 1 of 2" in page and page.count('name="job" value=') == 50
    assert (
        operator_client.get("/operator/queue/?page=2").content.decode().count('name="job" value=')
        == 11
    )


def test_a_bulk_pause_reaches_every_ticked_printer(
    operator_client: Client, queued: Any, make_printer: Any
) -> None:
    printers = [make_printer(f"r1-{i}", row="R1", position=i) for i in range(50)]
    job = queued(quantity=50)
    for p in printers:
        claim(Job.objects.get(pk=job.pk), p)
    idle = make_printer("idle")
    response = operator_client.post(
        "/operator/fleet/bulk/",
        {"action": "pause", "printer": [p.pk for p in printers] + [idle.pk]},
    )
    assert response.status_code == 302
    asked = Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED)
    assert asked.count() == 50 and not asked.filter(printer=idle).exists()


def test_a_bulk_action_on_every_printer_the_filters_select(
    operator_client: Client, make_printer: Any
) -> None:
    for i in range(3):
        make_printer(f"mk4-{i}")
    mini = make_printer("mini-1", model="Prusa MINI+")
    operator_client.post(
        "/operator/fleet/bulk/",
        {"action": "out_of_service", "scope": "filtered", "model": "Prusa MK4"},
    )
    assert Printer.objects.filter(maintenance=True).count() == 3
    assert not Printer.objects.get(pk=mini.pk).maintenance


def test_one_file_is_sent_to_the_ticked_printers(
    operator_client: Client, queued: Any, make_printer: Any, settings: Any
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 1
    petg = Material.objects.create(name="PETG")
    free = [make_printer(f"p{i}") for i in range(4)]
    other = make_printer("petg-1", material=petg)
    job = queued(quantity=1)
    operator_client.post(
        "/operator/fleet/bulk/",
        {"action": "send", "job": str(job.pk), "printer": [p.pk for p in [*free, other]]},
    )
    job.refresh_from_db()
    runs = PrintRun.objects.filter(job=job)
    assert sorted(runs.values_list("printer__name", flat=True)) == ["p0", "p1", "p2", "p3"]
    assert job.quantity == 4  # one copy was waiting; three more for the other printers
    assert schedule_pass().runs_started == 0  # nothing left over to print elsewhere


def test_cancelling_prints_in_bulk_asks_first(
    operator_client: Client, queued: Any, make_printer: Any
) -> None:
    printer = make_printer("p1")
    claim(queued(), printer)
    response = operator_client.post(
        "/operator/fleet/bulk/", {"action": "cancel", "printer": [printer.pk]}
    )
    assert response.status_code == 200 and "are lost" in response.content.decode()
    assert not Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED).exists()


def test_the_timeline_is_the_passs_plan_and_drops_a_held_job_at_once(
    operator_client: Client, queued: Any, make_printer: Any
) -> None:
    printer = make_printer("berlin-1")
    Printer.objects.filter(pk=printer.pk).update(bed_clear=False)
    job = queued(quantity=2)
    assert queue_plan() != []  # no pass yet: planned here
    schedule_pass()
    assert cache.get(PREVIOUS_PLAN_KEY) is not None
    assert {p.job_id for p in queue_plan()} == {job.pk}
    operator_client.post("/operator/queue/act/", {"row": f"hold:{job.pk}"})
    assert queue_plan() == []  # held since the pass: not shown as planned
    page = operator_client.get("/operator/queue/").content.decode()
    assert "<rect" not in page
