"""The benchmark behind `manage.py bench_farm_pass`: the farm's own passes through Django.

Seeds a farm of printers across a few sites (bulk_create), imports the jobs from a generated
CSV through `jobs_import` (a handful of parts, so each is sliced once), then measures the
scheduling pass as the worker runs it, a second pass right after (nothing changed), and
single-printer decisions (`printer_next_run`) on printers that just became ready, counting
every query with `connection.execute_wrapper`. Run it on a database of its own: it writes
thousands of rows.
"""

from __future__ import annotations

import csv
import datetime
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from farm.models import Material, Printer, PrintRun, Site
from farm.scheduling import plan
from farm.scheduling_bench.bench import reference_seconds
from farm.services import bulk, enqueue
from farm.services.incremental import forget_engine, printer_next_run
from farm.services.plan_inputs import plan_inputs, to_timestamp
from farm.services.runs import bed_clear, run_finish, run_start
from farm.services.scheduling import schedule_pass
from farm.statuses import RunStatus

SITES = ("bench-a", "bench-b", "bench-c", "bench-d")
# (model, build volume mm, share of the farm)
MODELS = (
    ("Prusa MK4", (250.0, 210.0, 220.0), 0.6),
    ("Prusa MINI", (180.0, 180.0, 180.0), 0.3),
    ("Prusa XL", (360.0, 360.0, 360.0), 0.1),
)
# (part, box size mm, materials it is ordered in)
PARTS = (
    ("bracket", (40.0, 30.0, 10.0), ("PLA", "PETG")),
    ("clip", (20.0, 20.0, 20.0), ("PLA",)),
    ("housing", (80.0, 40.0, 20.0), ("PLA", "PETG")),
    ("plate", (60.0, 60.0, 15.0), ("PLA",)),
    ("spacer", (15.0, 15.0, 40.0), ("PLA",)),
)


class QueryCounter:
    """Counts the statements run through Django, by their first word."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.kinds[sql.lstrip().split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.kinds.items() if k in ("INSERT", "UPDATE", "DELETE"))


@contextmanager
def measured() -> Iterator[dict[str, Any]]:
    """Seconds and queries of the block, and the Celery messages it sent after its commits
    (count, and seconds from building them to the broker's answer), as a dict filled in when
    the block ends."""
    counter = QueryCounter()
    result: dict[str, Any] = {}
    sent = [0, 0.0]
    real_send = enqueue.send_tasks  # every message goes through it, batched or alone

    def timed_send(messages: Sequence[enqueue.TaskMessage]) -> bool:
        started = time.perf_counter()
        try:
            return real_send(messages)
        finally:
            sent[0] += len(messages)
            sent[1] += time.perf_counter() - started

    enqueue.send_tasks = timed_send
    started = time.perf_counter()
    try:
        with connection.execute_wrapper(counter):
            yield result
    finally:
        enqueue.send_tasks = real_send
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["queries"] = counter.total
    result["writes"] = counter.writes
    result["by_statement"] = dict(sorted(counter.kinds.items()))
    result["messages_sent"] = sent[0]
    result["messages_seconds"] = round(sent[1], 3)


def seed(printers: int, rng: random.Random) -> User:
    owner = User.objects.create_superuser("bench", password=None)
    sites = [Site.objects.create(name=slug, slug=slug) for slug in SITES]
    materials = {name: Material.objects.create(name=name) for name in ("PLA", "PETG")}
    rows = []
    for i in range(printers):
        model, (x, y, z) = _pick_model(i, printers)
        material = "PETG" if i % 5 == 4 else "PLA"
        rows.append(
            Printer(
                name=f"bench-{i:05d}",
                site=sites[i % len(sites)],
                model=model,
                build_x_mm=x,
                build_y_mm=y,
                build_z_mm=z,
                material=materials[material],
                colour=rng.choice(("black", "black", "white")),
                connection_kind="simulated",
                connection_settings={"speedup": 1},
                state="ready",
            )
        )
    Printer.objects.bulk_create(rows, batch_size=1000)
    return owner


def _pick_model(i: int, total: int) -> tuple[str, tuple[float, float, float]]:
    edge = 0.0
    for model, volume, share in MODELS:
        edge += share
        if i < edge * total:
            return model, volume
    return MODELS[-1][0], MODELS[-1][1]


def write_order(folder: Path, jobs: int, rng: random.Random) -> Path:
    """A CSV of `jobs` rows over PARTS: most one copy, some four; some due, rush, sited."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, size, _ in PARTS:
        trimesh.creation.box(extents=size).export(folder / f"{name}.stl")
    today = timezone.localdate()
    path = folder / "order.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["file", "quantity", "material", "colour", "priority", "due", "site", "needed_at"]
        )
        for i in range(jobs):
            name, _, materials = PARTS[i % len(PARTS)]
            due = (
                today + datetime.timedelta(days=rng.randint(2, 14)) if rng.random() < 0.3 else None
            )
            out.writerow(
                [
                    f"{name}.stl",
                    4 if rng.random() < 0.15 else 1,
                    materials[i // len(PARTS) % len(materials)],
                    rng.choice(("black", "black", "white", "")),
                    rng.choices(("", "high", "rush"), weights=(94, 5, 1))[0],
                    due.isoformat() if due else "",
                    rng.choice(SITES) if rng.random() < 0.05 else "",
                    rng.choice(SITES) if rng.random() < 0.2 else "",
                ]
            )
    return path


def timed_pass() -> dict[str, Any]:
    with measured() as timing:
        outcome = schedule_pass()
    return timing | {
        "runs_started": outcome.runs_started,
        "times_published": outcome.times_published,
        "filament_requests": outcome.filament_requests,
        "kept_previous_plan": outcome.kept_previous,
    }


def free_printers(count: int) -> list[int]:
    """Finish the runs of `count` printers and clear their beds: they become ready."""
    runs = list(
        PrintRun.objects.filter(status=RunStatus.DISPATCHING).select_related("printer")[:count]
    )
    for run in runs:
        run_start(run_id=run.pk)
        run_finish(run_id=run.pk)
        bed_clear(printer=Printer.objects.get(pk=run.printer_id), actor=None)
    return [run.printer_id for run in runs]


def decisions(printer_ids: list[int]) -> dict[str, Any]:
    """Time `printer_next_run` on each printer (the first one builds the kept engine)."""
    forget_engine()
    with measured() as first:
        printer_next_run(printer_id=printer_ids[0])
    timings: list[float] = []
    outcomes: Counter[str] = Counter()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        for printer_id in printer_ids[1:]:
            started = time.perf_counter()
            outcomes[printer_next_run(printer_id=printer_id)] += 1
            timings.append((time.perf_counter() - started) * 1000.0)
    n = max(1, len(timings))
    return {
        "decisions": len(timings),
        "p50_ms": round(float(np.percentile(timings, 50)), 2) if timings else None,
        "p99_ms": round(float(np.percentile(timings, 99)), 2) if timings else None,
        "max_ms": round(max(timings), 2) if timings else None,
        "queries_per_decision": round(counter.total / n, 1),
        "outcomes": dict(outcomes),
        "engine_build": {k: first[k] for k in ("seconds", "queries")},
    }


def run(
    *, printers: int, jobs: int, decisions_count: int, workdir: Path, seed_value: int = 0
) -> dict[str, Any]:
    rng = random.Random(seed_value)
    report: dict[str, Any] = {
        "database": connection.vendor,
        "printers": printers,
        "jobs": jobs,
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "reference_seconds": round(reference_seconds(), 3),
    }
    owner = seed(printers, rng)
    order = write_order(workdir / "parts", jobs, rng)
    real_prepare, preparing = bulk.job_prepare, [0.0]

    def timed_prepare(**kwargs: Any) -> None:
        started = time.perf_counter()
        real_prepare(**kwargs)
        preparing[0] += time.perf_counter() - started

    bulk.job_prepare = timed_prepare  # to tell slicing from writing rows; the real one runs
    try:
        with measured() as imported, order.open(newline="") as handle:
            result = bulk.jobs_import(owner=owner, csv_file=handle, files_root=order.parent)
    finally:
        bulk.job_prepare = real_prepare
    if result.errors:
        raise RuntimeError(f"the bench's own order did not import: {result.errors[:5]}")
    imported.update(
        jobs=len(result.job_ids), prepared=result.prepared, prepare_seconds=round(preparing[0], 3)
    )
    report["import"] = imported

    # Where the pass spends its time: reading the farm, then planning it (no writes).
    with measured() as reading:
        inputs = plan_inputs()
    started = time.perf_counter()
    plan(
        inputs.slots,
        inputs.items,
        now=to_timestamp(inputs.now),
        sites=inputs.sites,
        options=inputs.options,
    )
    report["breakdown"] = {
        "read_seconds": reading["seconds"],
        "read_queries": reading["queries"],
        "plan_seconds": round(time.perf_counter() - started, 3),
        "copies_waiting": sum(w.copies for w in inputs.items),
    }
    for name in ("full_pass", "second_pass"):
        report[name] = timed_pass()
    # The first pass changes the farm (thousands of runs start, printers wait for filament),
    # so the second one plans a different farm. Passes until one starts nothing, then one
    # more: a pass over a farm where nothing changed.
    settling = 0
    while report["second_pass"]["runs_started"] and settling < 5:
        settling += 1
        if not schedule_pass().runs_started:
            break
    report["settled_pass"] = timed_pass() | {"passes_before": settling}

    ready = free_printers(decisions_count + 1)
    report["incremental"] = decisions(ready) if ready else {"decisions": 0}
    report["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return report
