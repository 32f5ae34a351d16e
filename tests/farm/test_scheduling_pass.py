"""The scheduling pass as the farm uses it: quotes before confirmation, filament requests for
operators, and estimates that learn from finished runs."""

from __future__ import annotations

import datetime
import itertools
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from farm.models import Job, Material, Printer, PrintRun, Site
from farm.scheduling.types import Assignment
from farm.services.dispatch import run_dispatch
from farm.services.jobs import job_confirm
from farm.services.learning import corrections_load, plan_model
from farm.services.plan_inputs import plan_inputs
from farm.services.preparation import job_prepare
from farm.services.runs import run_finish
from farm.services.scheduling import FilamentAsk, _start_request, schedule_pass
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from printers.models import SimulatedDevice


def prepared(alice: Any, pla: Any, upload: Any, **kwargs: Any) -> Job:
    job = job_submit(owner=alice, upload=upload, material=pla, quantity=1, **kwargs)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_a_job_waits_for_its_owner_with_a_quoted_completion_time(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1")
    job = prepared(alice, pla, cube_upload(), confirm_required=True)
    assert job.status == JobStatus.QUOTED
    assert schedule_pass().runs_started == 0  # nothing prints before the owner confirms
    job.refresh_from_db()
    assert job.planned_end is not None
    quoted = job.planned_end
    job_confirm(job=job, actor=alice)
    assert schedule_pass().runs_started == 1
    job.refresh_from_db()
    assert job.status == JobStatus.PRINTING
    assert abs((job.planned_end - quoted).total_seconds()) < 5  # the promise is the plan


def test_a_quote_for_a_job_no_printer_can_take_says_why(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1")
    empty_site = Site.objects.create(name="Lyon", slug="lyon")
    job = prepared(alice, pla, cube_upload(), confirm_required=True, site=empty_site)
    schedule_pass()
    job.refresh_from_db()
    assert job.planned_end is None and "lyon" in job.plan_note


def test_only_the_owner_confirms(
    client: Client, alice: Any, bob: Any, pla: Any, cube_upload: Any
) -> None:
    job = prepared(alice, pla, cube_upload(), confirm_required=True)
    client.force_login(bob)
    assert client.post(f"/jobs/{job.pk}/confirm/").status_code == 404
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUOTED


def test_an_operator_is_asked_to_load_the_filament_a_job_needs(
    client: Client, alice: Any, operator: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    petg = Material.objects.create(name="PETG")
    printer = make_printer("p1", material=petg, colour="black")
    prepared(alice, pla, cube_upload(), colour="red")
    result = schedule_pass()
    assert (result.runs_started, result.filament_requests) == (0, 1)
    printer.refresh_from_db()
    assert (printer.requested_material, printer.requested_colour) == (pla, "red")

    client.force_login(operator)
    assert "Load PLA red" in client.get("/operator/").content.decode()
    client.post(f"/operator/printers/{printer.pk}/filament/")
    printer.refresh_from_db()
    assert (printer.material, printer.colour, printer.requested_material) == (pla, "red", None)
    assert schedule_pass().runs_started == 1


@pytest.mark.django_db(transaction=True)
def test_finished_runs_teach_the_estimates(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    import datetime

    printer = make_printer("p1", connection_settings={"speedup": 1000})
    for _ in range(3):
        job = prepared(alice, pla, cube_upload())
        schedule_pass()
        run = PrintRun.objects.get(status="dispatching")
        run_dispatch(run_id=run.pk)
        SimulatedDevice.objects.update(started_at=None)  # the device is free for the next
        # Each print takes three times its estimate (the clock is the one seam we hold).
        took = datetime.timedelta(seconds=3 * (job.seconds_per_copy or 0) / 1000)
        PrintRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - took)
        run_finish(run_id=run.pk)
        Printer.objects.filter(pk=printer.pk).update(bed_clear=True, current_run=None)
    # Three runs of a factor 3, shrunk toward 1 until the model has runs of its own.
    factor = corrections_load().model_factor(plan_model(Printer.objects.get(pk=printer.pk)))
    assert factor > 1.2


@pytest.mark.django_db(transaction=True)
def test_the_report_counts_what_the_farm_printed(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command

    make_printer("p1", connection_settings={"speedup": 1e6})
    prepared(alice, pla, cube_upload())
    schedule_pass()
    run = PrintRun.objects.get()
    run_dispatch(run_id=run.pk)
    run_finish(run_id=run.pk)
    out = StringIO()
    call_command("farm_report", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["estimate_error"]["runs"] == 1
    assert sum(report["pieces_per_day"]) == 1
    assert set(report["utilisation"]["site"]) == {"berlin"}


@pytest.mark.django_db(transaction=True)
def test_a_freed_printer_gets_its_next_run_without_a_full_pass(
    alice: Any,
    operator: Any,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from farm.services.incremental import printer_next_run
    from farm.services.runs import bed_clear

    printer = make_printer("p1", connection_settings={"speedup": 1e6})
    first, second = (prepared(alice, pla, cube_upload()) for _ in range(2))
    assert schedule_pass().runs_started == 1
    run = PrintRun.objects.get()
    run_dispatch(run_id=run.pk)
    run_finish(run_id=run.pk)
    bed_clear(printer=printer, actor=operator)  # asks for this decision (a task, in a worker)
    assert printer_next_run(printer_id=printer.pk) == "started"
    assert {r.job_id for r in PrintRun.objects.all()} == {first.pk, second.pk}
    # Nothing is left: a second decision finds nothing to start.
    printer_next_run(printer_id=printer.pk)
    assert PrintRun.objects.count() == 2


def test_parts_are_printed_where_they_are_needed_when_that_costs_nothing(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, site: Any
) -> None:
    lyon = Site.objects.create(name="Lyon", slug="lyon")
    make_printer("berlin-1")
    make_printer("lyon-1", site=lyon)
    for_lyon = prepared(alice, pla, cube_upload(), needed_at=lyon)
    for_berlin = prepared(alice, pla, cube_upload(), needed_at=site)
    assert schedule_pass().runs_started == 2
    where = {r.job_id: r.printer.name for r in PrintRun.objects.select_related("printer")}
    assert where == {for_lyon.pk: "lyon-1", for_berlin.pk: "berlin-1"}


def test_no_filament_is_swapped_while_a_printer_holding_it_stands_free(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    petg = Material.objects.create(name="PETG")
    make_printer("a-petg", material=petg, colour="black")
    make_printer("b-pla", material=pla, colour="red")
    prepared(alice, pla, cube_upload(), colour="red")
    result = schedule_pass()
    assert (result.runs_started, result.filament_requests) == (1, 0)
    assert PrintRun.objects.get().printer.name == "b-pla"
    assert not Printer.objects.exclude(requested_material=None).exists()


def test_a_printer_with_runs_of_its_own_planned_takes_no_other_printers_run(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    petg = Material.objects.create(name="PETG")
    a = make_printer("a-petg", material=petg, colour="black")
    b = make_printer("b-pla", material=pla, colour="red")
    job = prepared(alice, pla, cube_upload(), colour="red")
    inputs = plan_inputs()
    now = inputs.now.timestamp()
    swap_on_a = Assignment(job.pk, a.pk, 1, now, now + 600, material_change=True)
    # b-pla holds the filament and the plan leaves it idle: the run starts there, no swap.
    request = _start_request(swap_on_a, inputs, inputs.printers[a.pk], set(), {})
    assert request is not None and request.printer.pk == b.pk
    # b-pla has runs of its own planned (promised): they are not delayed, a-petg is loaded.
    asks: dict[int, FilamentAsk] = {}
    planned = {b.pk}
    assert _start_request(swap_on_a, inputs, inputs.printers[a.pk], set(), asks, planned) is None
    assert asks[a.pk].material_id == pla.pk


def test_a_site_with_a_heat_up_limit_starts_its_next_heat_up_whenever_the_pass_runs(
    alice: Any, pla: Any, site: Site, make_printer: Any
) -> None:
    """The plan snaps a heat-limited site's starts to a grid (heat_seconds / max_heating, here
    150 s), so its first start is up to a step after now: that one starts, the next waits."""
    site.max_heating = 2  # 300 s of heat-up: a start every 150 s
    site.save(update_fields=["max_heating"])
    for name in ("p1", "p2", "p3"):
        make_printer(name)
    for i in range(3):
        Job.objects.create(
            owner=alice,
            name=f"part {i}",
            file=f"uploads/heat-{i}.gcode",
            file_kind="mesh",
            quantity=1,
            material=pla,
            status=JobStatus.QUEUED,
            estimate_source="sliced",
            seconds_per_copy=3600.0,
            grams_per_copy=10.0,
        )
    # 100 s past a grid point (a multiple of 150 s): the site's next start is 50 s away.
    noon = datetime.datetime(2026, 11, 23, 12, 1, 40, tzinfo=datetime.UTC)
    with mock.patch("django.utils.timezone.now", lambda: noon):
        assert schedule_pass().runs_started == 1


def test_a_pass_starts_every_run_due_before_the_next_pass_at_the_sites_heat_up_pace(
    alice: Any, pla: Any, site: Site, make_printer: Any, settings: Any
) -> None:
    """The runs the plan puts before the next pass start in this one, each keeping its
    planned start (its dispatch is held until then), so the heat-up stagger still holds.
    Before, a pass started only the site's next heat-up: with passes 10 minutes apart and a
    start every 150 s, the plan's pace was a run per pass, not four."""
    settings.FARM_SCHEDULE_SECONDS = 600  # the beat: the next pass in 10 minutes
    site.max_heating = 2  # 300 s of heat-up: a start every 150 s
    site.save(update_fields=["max_heating"])
    for name in ("p1", "p2", "p3", "p4", "p5"):
        make_printer(name)
    for i in range(5):
        Job.objects.create(
            owner=alice,
            name=f"part {i}",
            file=f"uploads/heat-{i}.gcode",
            file_kind="mesh",
            quantity=1,
            material=pla,
            status=JobStatus.QUEUED,
            estimate_source="sliced",
            seconds_per_copy=3600.0,
            grams_per_copy=10.0,
        )
    # 100 s past a grid point: the plan's starts at +50, +200, +350, +500 s are before the
    # next pass (+600 s), the fifth (+650 s) is the next pass's.
    noon = datetime.datetime(2026, 11, 23, 12, 1, 40, tzinfo=datetime.UTC)
    with mock.patch("django.utils.timezone.now", lambda: noon):
        assert schedule_pass().runs_started == 4
    starts = sorted(PrintRun.objects.values_list("planned_start", flat=True))
    assert starts[0] >= noon
    assert all((b - a).total_seconds() >= 150 - 1 for a, b in itertools.pairwise(starts))
    assert starts[-1] < noon + datetime.timedelta(seconds=600)
