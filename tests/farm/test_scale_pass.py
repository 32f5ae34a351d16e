"""The scheduling pass at farm scale keeps the guarantees of one run at a time: runs start in
batches, yet a printer never gets two runs and a copy is never given twice, whatever another
process does in between; planned times are written only when they change.

Integration-marked so CI runs them again on PostgreSQL, where passes really race."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from farm.models import Job, Material, Printer, PrintRun
from farm.scheduling import Plan
from farm.scheduling_bench.bench import moved_share
from farm.services import scheduling
from farm.services.jobs import job_cancel
from farm.services.plan_store import previous_plan
from farm.services.preparation import job_prepare
from farm.services.runs import RunRequest, runs_create
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.statuses import RUN_OPEN, JobStatus, RunStatus
from tests.farm.helpers import claim

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def one_copy_per_run(settings: Any) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 1


def queued(alice: Any, pla: Any, cube_upload: Any, quantity: int = 1) -> Job:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=quantity)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    return job


def open_runs_per_printer() -> dict[int, int]:
    counts: dict[int, int] = {}
    for printer_id in PrintRun.objects.filter(status__in=RUN_OPEN).values_list(
        "printer_id", flat=True
    ):
        counts[printer_id] = counts.get(printer_id, 0) + 1
    return counts


def copies_given(job: Job) -> int:
    return sum(PrintRun.objects.filter(job=job).values_list("copies", flat=True))


def with_interruption(monkeypatch: Any, act: Any) -> None:
    """Another process acts while the pass plans (between reading the farm and starting)."""
    real_plan = scheduling.plan

    def planning(*args: Any, **kwargs: Any) -> Plan:
        result = real_plan(*args, **kwargs)
        act()
        return result

    monkeypatch.setattr(scheduling, "plan", planning)


def test_two_racing_passes_start_one_run_per_printer_and_no_copy_twice(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, one_copy_per_run: None
) -> None:
    printers = [make_printer(f"p{i}") for i in range(6)]
    job = queued(alice, pla, cube_upload, quantity=4)
    other = queued(alice, pla, cube_upload, quantity=4)
    barrier = threading.Barrier(2)
    started: list[int] = []
    failures: list[BaseException] = []

    def run_pass() -> None:
        try:
            barrier.wait()
            started.append(schedule_pass().runs_started)
        except BaseException as exc:  # reported below, on the test's thread
            failures.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sum(started) == len(printers) == PrintRun.objects.count()
    assert set(open_runs_per_printer().values()) == {1}
    assert copies_given(job) + copies_given(other) == 6
    assert copies_given(job) <= 4 and copies_given(other) <= 4


def test_a_printer_another_process_claims_while_the_pass_plans_gets_one_run(
    alice: Any,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
    monkeypatch: Any,
    one_copy_per_run: None,
) -> None:
    p1, p2 = make_printer("p1"), make_printer("p2")
    job = queued(alice, pla, cube_upload, quantity=2)
    rush = queued(alice, pla, cube_upload)
    with_interruption(monkeypatch, lambda: claim(rush, Printer.objects.get(pk=p1.pk)))
    result = schedule_pass()
    assert result.runs_started == 1  # the pass planned two; p1 was taken meanwhile
    assert open_runs_per_printer() == {p1.pk: 1, p2.pk: 1}
    assert PrintRun.objects.get(printer=p1).job == rush
    assert copies_given(job) == 1  # the other copy waits for the next free printer
    job.refresh_from_db()
    assert job.status == JobStatus.PRINTING


def test_a_job_cancelled_while_the_pass_plans_is_not_started(
    alice: Any,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
    monkeypatch: Any,
    one_copy_per_run: None,
) -> None:
    make_printer("p1")
    make_printer("p2")
    cancelled = queued(alice, pla, cube_upload)
    kept = queued(alice, pla, cube_upload)
    with_interruption(monkeypatch, lambda: job_cancel(job=cancelled, actor=alice))
    assert schedule_pass().runs_started == 1
    assert list(PrintRun.objects.values_list("job_id", flat=True)) == [kept.pk]
    cancelled.refresh_from_db()
    assert cancelled.status == JobStatus.CANCELLED


def test_a_batch_reports_what_it_could_not_start_and_leaves_nothing_behind(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, one_copy_per_run: None
) -> None:
    p1, p2, p3 = make_printer("p1"), make_printer("p2"), make_printer("p3")
    job = queued(alice, pla, cube_upload, quantity=2)
    stale = [Printer.objects.get(pk=p.pk) for p in (p1, p2, p3)]
    claim(job, p1)  # another process, before the batch
    now = job.submitted_at
    requests = [RunRequest(job.pk, printer, 1, now, now) for printer in stale]
    outcome = runs_create(requests)
    assert [r.printer for r in outcome.runs] == [stale[1]]  # p1 taken, then one copy left
    assert [r.printer.pk for r in outcome.busy] == [p1.pk]
    assert [r.printer.pk for r, _ in outcome.nothing_to_print] == [p3.pk]
    assert open_runs_per_printer() == {p1.pk: 1, p2.pk: 1}
    assert Printer.objects.get(pk=p3.pk).current_run is None
    assert set(job.events.values_list("kind", flat=True)) >= {"run.created", "job.printing"}
    assert PrintRun.objects.filter(status=RunStatus.DISPATCHING).count() == 2


def job_updates(queries: CaptureQueriesContext) -> int:
    return sum(q["sql"].startswith('UPDATE "farm_job"') for q in queries.captured_queries)


def test_planned_times_are_written_again_only_when_they_change(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, one_copy_per_run: None
) -> None:
    make_printer("p1")
    jobs = [queued(alice, pla, cube_upload) for _ in range(3)]
    first = schedule_pass()
    assert (first.runs_started, first.times_published) == (1, 3)

    with CaptureQueriesContext(connection) as again:
        second = schedule_pass()  # nothing changed: no job is written
    assert (second.runs_started, second.times_published) == (0, 0)
    assert job_updates(again) == 0

    make_printer("p2")  # more capacity: the waiting jobs finish sooner
    with CaptureQueriesContext(connection) as moved:
        third = schedule_pass()
    assert third.runs_started == 1
    assert third.times_published >= 1
    assert job_updates(moved) <= 2  # one batched UPDATE of the times, one of the status
    ends = [Job.objects.get(pk=j.pk).planned_end for j in jobs]
    assert all(end is not None for end in ends)


def planned_runs() -> list[tuple[int, int, int]]:
    """The runs the last pass planned and did not start: (job, printer, copies)."""
    return sorted((a.job_id, a.printer_id, a.copies) for a in previous_plan())


def test_a_second_pass_over_an_unchanged_farm_writes_nothing_and_moves_no_run(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, one_copy_per_run: None
) -> None:
    petg = Material.objects.create(name="PETG")
    printers = [make_printer(f"p{i}") for i in range(3)]
    queued(alice, pla, cube_upload, quantity=9)
    job_submit_prepared(alice, petg, cube_upload, quantity=2)
    first = schedule_pass()
    assert first.runs_started == 3
    runs, requested = planned_runs(), requests_of(printers)
    assert len(runs) == 8  # 11 copies, 3 on printers

    with CaptureQueriesContext(connection) as again:
        second = schedule_pass()
    assert second.kept_previous
    assert (second.runs_started, second.times_published) == (0, 0)
    assert job_updates(again) == 0
    assert planned_runs() == runs  # every waiting copy on the printer it was planned on
    assert requests_of(printers) == requested  # no filament request moved


def test_a_little_new_work_moves_none_of_the_planned_runs(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, one_copy_per_run: None
) -> None:
    for i in range(4):
        make_printer(f"p{i}")
    queued(alice, pla, cube_upload, quantity=12)
    schedule_pass()
    before = previous_plan()
    new = queued(alice, pla, cube_upload)
    second = schedule_pass()
    assert second.kept_previous
    after = previous_plan()
    assert moved_share(Plan(assignments=before), Plan(assignments=after)) == 0.0
    assert [a.job_id for a in after].count(new.pk) == 1  # placed, around the others


def test_two_runs_asked_for_one_printer_in_one_batch_start_one(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, one_copy_per_run: None
) -> None:
    printer = make_printer("p1")
    job = queued(alice, pla, cube_upload, quantity=2)
    now = job.submitted_at
    outcome = runs_create([RunRequest(job.pk, printer, 1, now, now) for _ in range(2)])
    assert len(outcome.runs) == 1 and len(outcome.busy) == 1
    assert open_runs_per_printer() == {printer.pk: 1}


def job_submit_prepared(alice: Any, material: Any, cube_upload: Any, quantity: int) -> Job:
    job = job_submit(owner=alice, upload=cube_upload(), material=material, quantity=quantity)
    job_prepare(job_id=job.pk)
    return job


def requests_of(printers: list[Printer]) -> list[tuple[int | None, str]]:
    return [
        (p.requested_material_id, p.requested_colour)
        for p in Printer.objects.filter(pk__in=[p.pk for p in printers]).order_by("pk")
    ]
