"""One job through the services, with a simulated printer and one fleet-link pass at a time:
submit, prepare, plan, dispatch, print, finish, clear the bed, done."""

from __future__ import annotations

from typing import Any

import pytest

from farm.models import Job, Printer, PrintRun
from farm.services.dispatch import run_dispatch
from farm.services.fleet import fleet_link_build
from farm.services.preparation import job_prepare
from farm.services.runs import bed_clear
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.statuses import JobStatus, RunStatus
from printers.models import SimulatedDevice
from tests.farm.helpers import claim


def fleet_pass() -> None:
    """One pass of the fleet link over every printer, as the fleetlink command makes it."""
    fleet_link_build(threads=1).run_once()


def dispatch_all() -> None:
    for run in PrintRun.objects.filter(status=RunStatus.DISPATCHING):
        run_dispatch(run_id=run.pk)


@pytest.fixture
def queued_job(alice: Any, pla: Any, cube_upload: Any, settings: Any) -> Job:
    settings.FARM_MAX_COPIES_PER_PLATE = 1  # one copy per run: two runs to follow
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=2, colour="black")
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    return job


@pytest.mark.django_db(transaction=True)
def test_a_job_goes_from_submission_to_done(
    queued_job: Job, make_printer: Any, operator: Any
) -> None:
    p1, p2 = make_printer("p1"), make_printer("p2")
    result = schedule_pass()
    assert result.runs_started == 2
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.PRINTING
    assert queued_job.planned_end is not None

    dispatch_all()
    assert set(PrintRun.objects.values_list("status", flat=True)) == {RunStatus.PRINTING}
    fleet_pass()  # speed-up 1e6: the prints are already over
    assert set(PrintRun.objects.values_list("status", flat=True)) == {RunStatus.AWAITING_REMOVAL}
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.PRINTING  # printed, but the parts are on the beds

    for printer in (p1, p2):
        bed_clear(printer=printer, actor=operator)
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.DONE
    kinds = list(queued_job.events.order_by("id").values_list("kind", flat=True))
    assert kinds[:3] == ["job.submitted", "job.prepared", "run.created"]
    assert kinds[-1] == "job.done"


@pytest.mark.django_db(transaction=True)
def test_an_auto_eject_printer_clears_its_own_bed(queued_job: Job, make_printer: Any) -> None:
    make_printer("ejector", auto_eject=True)
    schedule_pass()
    dispatch_all()
    fleet_pass()
    printer = Printer.objects.get(name="ejector")
    assert printer.bed_clear and printer.current_run is None
    assert PrintRun.objects.get().status == RunStatus.DONE
    schedule_pass()  # the second copy goes to the same printer with nobody clicking
    dispatch_all()
    fleet_pass()
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.DONE


@pytest.mark.django_db(transaction=True)
def test_a_failed_print_returns_its_copy_to_the_queue(
    queued_job: Job, make_printer: Any, operator: Any
) -> None:
    printer = make_printer("flaky", connection_settings={"speedup": 1e9, "fail_at": 0.5})
    schedule_pass()
    dispatch_all()
    fleet_pass()
    run = PrintRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "simulated failure" in run.failure_reason
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.QUEUED
    printer.refresh_from_db()
    assert not printer.bed_clear  # someone must look at the failed print
    assert schedule_pass().runs_started == 0


@pytest.mark.django_db(transaction=True)
def test_dispatching_twice_starts_the_print_once(queued_job: Job, make_printer: Any) -> None:
    make_printer("p1", connection_settings={"speedup": 1})
    schedule_pass()
    run = PrintRun.objects.get()
    run_dispatch(run_id=run.pk)
    started = SimulatedDevice.objects.get().started_at
    PrintRun.objects.filter(pk=run.pk).update(status=RunStatus.DISPATCHING)  # a redelivered task
    run_dispatch(run_id=run.pk)
    assert SimulatedDevice.objects.get().started_at == started


@pytest.mark.django_db(transaction=True)
def test_work_that_fits_no_printer_says_why(queued_job: Job, make_printer: Any, pla: Any) -> None:
    make_printer("tiny", build_x_mm=10, build_y_mm=10, build_z_mm=10)
    result = schedule_pass()
    assert result.runs_started == 0
    queued_job.refresh_from_db()
    assert "does not fit" in queued_job.plan_note


@pytest.mark.django_db(transaction=True)
def test_two_passes_racing_for_one_printer_create_one_run(
    queued_job: Job, make_printer: Any
) -> None:
    from farm.services.runs import PrinterBusy

    printer = make_printer("p1")
    stale = Printer.objects.get(pk=printer.pk)
    schedule_pass()
    with pytest.raises(PrinterBusy):
        claim(queued_job, stale)
    assert PrintRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_copies_that_fit_one_plate_print_in_one_run(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, operator: Any
) -> None:
    printer = make_printer("p1")
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=4)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.copies_per_plate == 4  # four 20 mm cubes fit a 250 x 210 bed
    assert schedule_pass().runs_started == 1
    dispatch_all()
    fleet_pass()
    bed_clear(printer=printer, actor=operator)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert list(PrintRun.objects.values_list("copies", flat=True)) == [4]


@pytest.mark.django_db(transaction=True)
def test_a_plate_divides_the_quantity_so_no_run_prints_extra_copies(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, settings: Any
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 4
    make_printer("p1")
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=6)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.copies_per_plate == 3


@pytest.mark.django_db(transaction=True)
def test_two_passes_never_print_the_same_copy_twice(queued_job: Job, make_printer: Any) -> None:
    from farm.services.runs import NothingToPrint

    p1, p2, p3 = make_printer("p1"), make_printer("p2"), make_printer("p3")
    for printer in (p1, p2):  # the job's two copies
        claim(queued_job, printer)
    with pytest.raises(NothingToPrint):  # a stale plan offers a third printer the same work
        claim(queued_job, p3)
    assert PrintRun.objects.count() == 2
    p3.refresh_from_db()
    assert p3.current_run is None
