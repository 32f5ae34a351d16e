"""Statistics: each table from runs and jobs made through the services, then dated."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from farm.models import Job, Site
from farm.services.stats import (
    estimate_accuracy,
    failure_reasons,
    filament_used,
    outcomes,
    sla,
    stats_filter,
    throughput,
    utilisation,
)
from farm.statuses import JobStatus
from tests.farm.records_helpers import ended_run, queued_job


@pytest.fixture
def farm(alice: Any, pla: Any, make_printer: Any) -> dict[str, Any]:
    job = queued_job(alice, pla)
    p1, p2 = make_printer("p1"), make_printer("p2")
    day = datetime.timedelta(days=1)
    ended_run(job, p1, hours=2, ended_ago=day)
    ended_run(job, p1, hours=2, ended_ago=day + datetime.timedelta(hours=3))
    ended_run(
        job, p2, hours=4, ended_ago=datetime.timedelta(hours=1), fail="layer shift", progress=0.5
    )
    ended_run(job, p2, hours=1, ended_ago=datetime.timedelta(hours=6), fail="layer shift")
    ended_run(job, p2, hours=1, ended_ago=datetime.timedelta(hours=8), fail="nozzle clog")
    return {"job": job, "p1": p1, "p2": p2}


def test_throughput_counts_pieces_and_outcomes_per_day(farm: dict[str, Any]) -> None:
    f = stats_filter()
    table = throughput(f)
    assert len(table.rows) == 30
    assert sum(r[1] for r in table.rows) == 2  # pieces
    assert sum(r[3] for r in table.rows) == 3  # runs failed
    today = timezone.localdate().isoformat()
    assert table.rows[-1][0] == today


def test_success_rate_and_failure_reasons(farm: dict[str, Any]) -> None:
    f = stats_filter()
    assert outcomes(f).note.startswith("40.0% of 5 runs printed")
    assert failure_reasons(f).rows == [["layer shift", 2], ["nozzle clog", 1]]


def test_utilisation_per_site_and_model(farm: dict[str, Any]) -> None:
    f = stats_filter(start=(timezone.localdate() - datetime.timedelta(days=1)).isoformat())
    [row] = utilisation(f).rows
    assert row[:4] == ["Berlin", "Prusa MK4", 2, 10.0]
    assert 0 < row[4] < 1


def test_a_site_filter_leaves_the_other_sites_out(farm: dict[str, Any]) -> None:
    Site.objects.create(name="Paris", slug="paris", timezone="Europe/Paris")
    assert throughput(stats_filter(site="paris")).rows[-1][1:] == [0, 0, 0]
    assert utilisation(stats_filter(site="paris")).rows == []


def test_completion_sla_counts_jobs_old_enough_to_judge(alice: Any, pla: Any) -> None:
    now = timezone.now()
    for age, took in [(10, 2), (10, 4), (10, 7), (8, None), (1, None)]:
        job = queued_job(alice, pla, quantity=1)
        finished = now - datetime.timedelta(days=age - took) if took is not None else None
        status = JobStatus.DONE if took is not None else JobStatus.QUEUED
        Job.objects.filter(pk=job.pk).update(
            submitted_at=now - datetime.timedelta(days=age), finished_at=finished, status=status
        )
    table = sla(stats_filter(sla_days="5"))
    # Four jobs are at least 5 days old; two of them were done within 5 days.
    assert table.note.startswith("50% within 5 days (2 of 4 jobs")
    assert table.rows == [["2-3", 1], ["4-5", 1], ["7-8", 1]]


def test_estimate_accuracy_compares_planned_with_actual(farm: dict[str, Any]) -> None:
    table = estimate_accuracy(stats_filter())
    assert sum(r[1] for r in table.rows) == 2
    assert all(r[4] == pytest.approx(1.0) for r in table.rows)  # the helper plans what it prints
    assert table.note.startswith("2 runs: median error 0%")


def test_filament_used_per_material(farm: dict[str, Any]) -> None:
    grams = farm["job"].grams_per_copy
    table = filament_used(stats_filter())
    total = sum(r[2] for r in table.rows)
    # Two printed (all of it), one failed at half; the other two failed at 0.5 default progress.
    assert total == pytest.approx(grams * (2 + 0.5 * 3), abs=0.2)
    assert {r[1] for r in table.rows} == {"PLA"}


def test_a_bad_filter_means_the_last_30_days(db: Any) -> None:
    f = stats_filter(start="yesterday", end="2026-13-45", site="nowhere", sla_days="x")
    assert (f.end - f.start).days == 29 and f.site is None and f.sla_days == 5.0


def test_the_records_bench_runs_on_a_small_farm(db: Any) -> None:
    from farm.records_bench import run

    report = run(printers=6, runs_per_printer=30, seed_value=1)
    assert report["farm"]["runs"] == 180
    assert report["out_of_service"] > 0  # 30 runs of 0.5-6 h pass 60 print hours on most
    assert all(report[k]["queries"] > 0 for k in ("maintenance_status", "stats_tables_30_days"))
