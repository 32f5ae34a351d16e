"""What bench_records measures: the records' queries on a farm of N printers with a month of
runs (maintenance due for every printer, failure rates, the sweep, every statistics table,
stock levels), each timed with its query count. Runs in a bench database of its own."""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from farm.models import (
    Job,
    MaintenanceSchedule,
    Material,
    Printer,
    PrintRun,
    Site,
    Spool,
    StockThreshold,
)
from farm.services.maintenance import failure_rates, maintenance_status, maintenance_sweep
from farm.services.spools import stock_levels
from farm.services.stats import stats_filter, stats_tables
from farm.statuses import JobStatus, RunStatus

MODELS = ("Prusa MK4", "Bambu X1C", "Voron 2.4")


def seed(*, printers: int, runs_per_printer: int, seed_value: int) -> dict[str, int]:
    rng = random.Random(seed_value)
    now = timezone.now()
    owner = User.objects.create_user("bench")
    pla = Material.objects.create(name="PLA")
    sites = [Site.objects.create(name=f"Site {i}", slug=f"site-{i}") for i in range(4)]
    Printer.objects.bulk_create(
        Printer(
            name=f"p-{i:05d}",
            site=sites[i % len(sites)],
            model=MODELS[i % len(MODELS)],
            material=pla,
            colour="black",
            state="ready",
        )
        for i in range(printers)
    )
    jobs = Job.objects.bulk_create(
        Job(
            owner=owner,
            name=f"part-{i}",
            file=f"uploads/bench-{i}.stl",
            file_kind="mesh",
            quantity=runs_per_printer * printers // 100 + 1,
            material=pla,
            status=JobStatus.DONE,
            grams_per_copy=rng.uniform(5, 80),
            seconds_per_copy=3600,
        )
        for i in range(100)
    )
    Job.objects.update(submitted_at=now - datetime.timedelta(days=20), finished_at=now)
    printer_ids = list(Printer.objects.values_list("pk", flat=True))
    runs = []
    for pk in printer_ids:
        for _ in range(runs_per_printer):
            end = now - datetime.timedelta(minutes=rng.uniform(0, 30 * 24 * 60))
            hours = rng.uniform(0.5, 6)
            failed = rng.random() < 0.04
            runs.append(
                PrintRun(
                    job=rng.choice(jobs),
                    printer_id=pk,
                    status=RunStatus.FAILED if failed else RunStatus.DONE,
                    planned_start=end - datetime.timedelta(hours=hours * rng.uniform(0.8, 1.2)),
                    planned_end=end,
                    started_at=end - datetime.timedelta(hours=hours),
                    ended_at=end,
                    progress=rng.random() if failed else 1.0,
                    failure_reason=rng.choice(["layer shift", "spaghetti", "clog"])
                    if failed
                    else "",
                )
            )
    PrintRun.objects.bulk_create(runs, batch_size=5000)
    for model in MODELS:
        MaintenanceSchedule.objects.create(
            task="Belts", printer_model=model, every_print_hours=60
        )  # about a third overdue
        MaintenanceSchedule.objects.create(task="Nozzle", printer_model=model, every_runs=150)
    MaintenanceSchedule.objects.update(created_at=now - datetime.timedelta(days=40))
    Spool.objects.bulk_create(
        Spool(
            material=pla,
            colour=rng.choice(["black", "white", "red"]),
            remaining_g=rng.uniform(0, 1000),
        )
        for _ in range(printers)
    )
    StockThreshold.objects.create(material=pla, colour="red", min_g=10**9)
    return {"printers": printers, "runs": len(runs), "schedules": 2 * len(MODELS)}


def timed(work: Callable[[], Any]) -> dict[str, float]:
    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
    return {"ms": round(seconds * 1000, 1), "queries": queries}


def run(*, printers: int, runs_per_printer: int, seed_value: int) -> dict[str, Any]:
    farm = seed(printers=printers, runs_per_printer=runs_per_printer, seed_value=seed_value)
    f = stats_filter()
    return {
        "farm": farm,
        "maintenance_status": timed(maintenance_status),
        "failure_rates": timed(failure_rates),
        "maintenance_sweep_first": timed(maintenance_sweep),  # takes the overdue ones out
        "maintenance_sweep_again": timed(maintenance_sweep),
        "stats_tables_30_days": timed(lambda: stats_tables(f)),
        "stock_levels": timed(stock_levels),
        "out_of_service": Printer.objects.filter(maintenance=True).count(),
    }
