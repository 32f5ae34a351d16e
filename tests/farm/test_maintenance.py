"""Maintenance: due by print hours, runs or days; the sweep takes an overdue printer out of
service (the planner's Printer.maintenance) with the reason, logging the work puts it back;
failure rates from the farm's runs flag a printer that keeps failing."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from farm.models import MaintenanceHold, MaintenanceLog, MaintenanceSchedule, Printer
from farm.models.printer import free_to_start
from farm.records_rules import Interval, Outcomes, Usage, due_share, failure_flag
from farm.services.maintenance import (
    failure_rates,
    maintenance_log_work,
    maintenance_status,
    maintenance_sweep,
)
from farm.services.plan_inputs import MAINTENANCE_PLAN_SECONDS, plan_inputs
from farm.services.plan_store import previous_plan
from farm.services.scheduling import schedule_pass
from tests.farm.records_helpers import ended_run, queued_job


@pytest.mark.parametrize(
    ("usage", "interval", "share"),
    [
        (Usage(50, 3, 1), Interval(100, None, None), 0.5),
        (Usage(50, 30, 1), Interval(100, 20, None), 1.5),  # runs come first
        (Usage(0, 0, 45), Interval(None, None, 30), 1.5),
        (Usage(10, 1, 1), Interval(None, None, None), 0.0),
    ],
)
def test_the_tightest_interval_decides(usage: Usage, interval: Interval, share: float) -> None:
    assert due_share(usage, interval).share == pytest.approx(share)


@pytest.mark.parametrize(
    ("own", "peers", "flagged"),
    [
        (Outcomes(20, 8), Outcomes(200, 10), True),  # 40 % against 5 %
        (Outcomes(5, 4), Outcomes(200, 10), False),  # too few runs to say
        (Outcomes(20, 6), Outcomes(200, 50), False),  # 30 % against 25 %: the model's normal
        (Outcomes(20, 2), Outcomes(200, 0), False),  # 10 % against 0 %: under the margin
    ],
)
def test_a_printer_that_keeps_failing_is_flagged(
    own: Outcomes, peers: Outcomes, flagged: bool
) -> None:
    assert failure_flag(own, peers, peers, min_runs=10).flagged is flagged


def test_a_schedule_names_a_printer_or_a_model(make_printer: Any) -> None:
    with pytest.raises(ValidationError):
        MaintenanceSchedule(task="Oil", every_days=30).full_clean()
    with pytest.raises(ValidationError):
        MaintenanceSchedule(task="Oil", printer_model="Prusa MK4").full_clean()
    MaintenanceSchedule(task="Oil", printer_model="Prusa MK4", every_runs=3).full_clean()


@pytest.fixture
def job(alice: Any, pla: Any) -> Any:
    return queued_job(alice, pla)


def schedule_made_days_ago(days: float = 3, **fields: Any) -> MaintenanceSchedule:
    """A schedule made before the test's runs (they are dated hours back)."""
    schedule = MaintenanceSchedule.objects.create(**fields)
    made = schedule.created_at - datetime.timedelta(days=days)
    MaintenanceSchedule.objects.filter(pk=schedule.pk).update(created_at=made)
    return MaintenanceSchedule.objects.get(pk=schedule.pk)


def test_print_hours_and_runs_since_the_work_count_towards_the_schedule(
    job: Any, make_printer: Any, operator: Any
) -> None:
    p1, p2 = make_printer("p1"), make_printer("p2")
    schedule = schedule_made_days_ago(
        task="Clean the nozzle", printer_model="Prusa MK4", every_print_hours=10
    )
    ended_run(job, p1, hours=4)
    ended_run(job, p1, hours=3, fail="spaghetti")
    ended_run(job, p2, hours=2)
    status = {i.printer.name: i for i in maintenance_status()}
    assert status["p1"].usage.print_hours == pytest.approx(7)
    assert status["p1"].usage.runs == 2
    assert status["p1"].soon is False and status["p1"].due.share == pytest.approx(0.7)
    assert status["p2"].due.share == pytest.approx(0.2)

    maintenance_log_work(printer=p1, schedule=schedule, actor=operator, note="cleaned")
    status = {i.printer.name: i for i in maintenance_status()}
    assert status["p1"].usage.runs == 0  # the cycle starts again from the work


def test_the_sweep_takes_an_overdue_printer_out_of_service_until_the_work_is_logged(
    job: Any, make_printer: Any, operator: Any
) -> None:
    p1 = make_printer("p1")
    schedule = schedule_made_days_ago(task="Belts", printer=p1, every_runs=2)
    ended_run(job, p1)
    assert maintenance_sweep().held == 0
    ended_run(job, p1)

    result = maintenance_sweep()
    assert result.held == 1
    p1.refresh_from_db()
    assert p1.maintenance
    assert not Printer.objects.filter(free_to_start(), pk=p1.pk).exists()  # the claim's rule
    hold = MaintenanceHold.objects.get(printer=p1)
    assert "Belts" in hold.reason and "2 of 2 runs" in hold.reason
    assert maintenance_sweep().held == 0  # once

    maintenance_log_work(printer=p1, schedule=schedule, actor=operator, note="tensioned")
    p1.refresh_from_db()
    assert not p1.maintenance
    assert not MaintenanceHold.objects.exists()
    entry = MaintenanceLog.objects.get()
    assert (entry.done_by, entry.note) == (operator, "tensioned")


def test_a_printer_a_person_took_out_of_service_stays_out(
    job: Any, make_printer: Any, operator: Any
) -> None:
    p1 = make_printer("p1")
    schedule = schedule_made_days_ago(task="Belts", printer=p1, every_runs=1)
    ended_run(job, p1)
    Printer.objects.filter(pk=p1.pk).update(maintenance=True)
    maintenance_sweep()
    maintenance_log_work(printer=p1, schedule=schedule, actor=operator)
    p1.refresh_from_db()
    assert p1.maintenance  # the sweep did not put it there, so logging does not take it out


def test_work_for_a_schedule_of_another_printer_is_refused(
    make_printer: Any, operator: Any
) -> None:
    p1, p2 = make_printer("p1"), make_printer("p2")
    schedule = MaintenanceSchedule.objects.create(task="Belts", printer=p1, every_runs=1)
    with pytest.raises(ValidationError):
        maintenance_log_work(printer=p2, schedule=schedule, actor=operator)


def test_failure_rates_compare_a_printer_with_its_model(
    job: Any, make_printer: Any, settings: Any
) -> None:
    settings.FARM_FAILURE_MIN_RUNS = 4
    bad, good = make_printer("bad"), make_printer("good")
    for i in range(4):
        ended_run(job, bad, fail="layer shift" if i < 3 else "")
        ended_run(job, good)
    flags = failure_rates()
    assert flags[bad.pk].flagged and flags[bad.pk].rate == pytest.approx(0.75)
    assert not flags[good.pk].flagged


def test_a_printer_page_gets_its_own_maintenance(
    job: Any, make_printer: Any, operator: Any
) -> None:
    from farm.services.maintenance import printer_maintenance

    p1, p2 = make_printer("p1"), make_printer("p2")
    schedule_made_days_ago(task="Belts", printer_model="Prusa MK4", every_runs=1)
    ended_run(job, p1)
    maintenance_sweep()
    maintenance_log_work(printer=p2, actor=operator, note="new fan")
    mine = printer_maintenance(printer=p1)
    assert [i.printer for i in mine.due] == [p1]
    assert [h.printer for h in mine.holds] == [p1]
    assert mine.log == []
    assert [e.note for e in printer_maintenance(printer=p2).log] == ["new fan"]


def test_the_records_sweep_task_runs_the_sweeps(job: Any, make_printer: Any) -> None:
    from farm.tasks import records_sweep_task

    p1 = make_printer("p1")
    schedule_made_days_ago(task="Belts", printer=p1, every_runs=1)
    ended_run(job, p1)
    records_sweep_task()
    assert Printer.objects.get(pk=p1.pk).maintenance


def test_a_printer_overdue_twice_comes_back_when_both_are_done(
    job: Any, make_printer: Any, operator: Any
) -> None:
    p1 = make_printer("p1")
    belts = schedule_made_days_ago(task="Belts", printer=p1, every_runs=1)
    nozzle = schedule_made_days_ago(task="Nozzle", printer_model="Prusa MK4", every_runs=1)
    ended_run(job, p1)
    assert maintenance_sweep().held == 2
    assert MaintenanceHold.objects.filter(set_maintenance=True).count() == 1
    maintenance_log_work(printer=p1, schedule=belts, actor=operator)
    assert Printer.objects.get(pk=p1.pk).maintenance  # the nozzle is still due
    maintenance_log_work(printer=p1, schedule=nozzle, actor=operator)
    assert not Printer.objects.get(pk=p1.pk).maintenance


def test_the_overview_is_kept_by_the_sweep_and_refreshed_by_logged_work(
    job: Any, make_printer: Any, operator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from farm.services.maintenance import maintenance_overview

    p1 = make_printer("p1")
    belts = schedule_made_days_ago(task="Belts", printer=p1, every_runs=1)
    ended_run(job, p1)
    maintenance_sweep()
    ended_run(job, make_printer("p2"))  # not counted until the next sweep: the page reads the cache
    overview = maintenance_overview()
    assert [i.printer.name for i in overview.due] == ["p1"] and overview.upcoming == 0
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_log_work(printer=p1, schedule=belts, actor=operator)
    overview = maintenance_overview()
    assert overview.due == [] and overview.upcoming == 1


def test_the_plan_keeps_a_printer_idle_across_its_maintenance_due_point(
    job: Any, make_printer: Any
) -> None:
    p1 = make_printer("p1")
    schedule_made_days_ago(task="Clean the nozzle", printer=p1, every_print_hours=3)
    ended_run(job, p1, hours=1.0)  # 1 of its 3 print hours used: due in 2 h at the soonest
    maintenance_sweep()
    slot = next(s for s in plan_inputs().slots if s.id == p1.pk)
    ((due, back),) = slot.maintenance
    assert 2 * 3600 - 120 < due - time.time() <= 2 * 3600 + 5
    assert back >= due + MAINTENANCE_PLAN_SECONDS
    schedule_pass()
    runs = [a for a in previous_plan() if a.printer_id == p1.pk]
    assert runs and not any(a.start < due < a.end for a in runs)
    assert any(a.start >= back for a in runs)  # and prints again once the work is done
