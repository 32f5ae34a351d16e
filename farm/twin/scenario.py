"""Digital-twin scenarios as JSON: the farm, what happens to it, and what arrives.

Scenario file format (one JSON object; hours count from "start")::

    {
      "name": "a 40,000-piece order arrives on Monday",
      "start": 1795392000,          # POSIX seconds; default Monday 2026-11-23 00:00 UTC
      "days": 7,                    # simulated time
      "seed": 1,
      "printers": {"generate": 5000, "seed": 1},   # the bench generator's farm (sites A-D),
                                    # or a list of printers in the instance format
      "add_printers": [             # optional: "what if we buy 500 more"
        {"count": 500, "site": "E", "model": "MK4", "build_mm": [250, 210, 220],
         "nozzle_mm": 0.4, "material": "PLA", "colour": "black", "materials": []}
      ],
      "sites": {"*": {...}, "B": {...}},  # site rules as in the instance format; "*" = all
      "outages": [{"site": "B", "start_hours": 24, "hours": 48}],
      "orders": [                   # big orders: pieces split evenly over `parts` jobs
        {"name": "monday-order", "at_hours": 8, "pieces": 40000, "parts": 20,
         "seconds_per_copy": 2700, "copies_per_plate": 4, "material": "PLA", "colour": "",
         "size_mm": [40, 40, 20], "priority": 1, "due_hours": 168}
      ],
      "background": {"jobs_per_day": 400, "seed": 2},  # employee jobs, generator's mix
      "failures": {"run_failure_rate": 0.02,  # share of runs that fail (spaghetti, adhesion)
                   "mtbf_hours": 720,         # mean time between printer breakdowns
                   "repair_hours": 6},        # mean repair time
      "time_spread": 0.08,          # actual / estimated print time is lognormal(0, this)
      "model_bias": {"MINI": 1.15},  # a model really takes this much longer than estimated
      "learn_estimates": true,      # correct estimates from finished runs (estimates.py)
      "replan_hours": 2,            # full replan at least this often when anything changed
      "report_within_days": 5,      # report the share of jobs finished within N days
      "promises": {"share": 0.9},   # promise every job (farm.scheduling.promises) and
                                    # report the share kept and the error; absent: none
      "farm_pass_minutes": 0        # simulate --farm: a change of the farm asks for a pass,
                                    # run at most this often (0: at once, every time)
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from farm.scheduling.types import PrinterSlot, SiteRules, WorkItem
from farm.scheduling_bench.instance import MONDAY, generate, printer_from, site_rules

H = 3600.0
ORDER_IDS = 10_000_000  # order jobs are numbered from here, background jobs from 1


@dataclass(frozen=True)
class Order:
    name: str
    at: float
    pieces: int
    due_hours: float | None


@dataclass(frozen=True)
class Outage:
    site: str
    start: float
    end: float


@dataclass(frozen=True)
class Scenario:
    name: str
    start: float
    days: float
    seed: int
    printers: list[PrinterSlot]
    sites: dict[str, SiteRules]
    outages: list[Outage]
    orders: list[Order]
    arrivals: list[tuple[float, WorkItem, str | None]]  # (when, job, order name or None)
    run_failure_rate: float = 0.0
    mtbf_hours: float = 0.0
    repair_hours: float = 4.0
    time_spread: float = 0.0
    model_bias: tuple[tuple[str, float], ...] = ()
    learn_estimates: bool = False
    replan_hours: float = 2.0
    report_within_days: float = 5.0
    promise_share: float | None = None
    farm_pass_minutes: float = 0.0


def load(path: str | Path) -> Scenario:
    return from_dict(json.loads(Path(path).read_text()))


def from_dict(data: dict[str, Any]) -> Scenario:
    start = float(data.get("start", MONDAY))
    days = float(data.get("days", 7))
    seed = int(data.get("seed", 0))
    printers = _printers(data.get("printers", {"generate": 100}), start)
    next_id = max((p.id for p in printers), default=0) + 1
    for batch in data.get("add_printers", []):
        for _ in range(int(batch["count"])):
            raw = {k: v for k, v in batch.items() if k != "count"}
            printers.append(printer_from({**raw, "id": next_id}, start))
            next_id += 1

    site_names = sorted({p.site for p in printers})
    raw_sites = data.get("sites", {})
    default = raw_sites.get("*")
    sites = {}
    for site in site_names:
        raw = raw_sites.get(site, default)
        if raw is not None:
            sites[site] = site_rules(raw)

    outages = [
        Outage(
            o["site"],
            start + float(o["start_hours"]) * H,
            start + (float(o["start_hours"]) + float(o["hours"])) * H,
        )
        for o in data.get("outages", [])
    ]
    orders: list[Order] = []
    arrivals: list[tuple[float, WorkItem, str | None]] = []
    job_id = ORDER_IDS
    for raw in data.get("orders", []):
        at = start + float(raw.get("at_hours", 0)) * H
        pieces, parts = int(raw["pieces"]), max(1, int(raw.get("parts", 1)))
        due_hours = raw.get("due_hours")
        name = str(raw.get("name", f"order-{len(orders) + 1}"))
        orders.append(Order(name, at, pieces, None if due_hours is None else float(due_hours)))
        for part in range(parts):
            copies = pieces // parts + (1 if part < pieces % parts else 0)
            item = WorkItem(
                job_id=job_id,
                copies=copies,
                seconds_per_copy=float(raw.get("seconds_per_copy", 3600)),
                material=str(raw.get("material", "PLA")),
                colour=str(raw.get("colour", "")),
                size_mm=tuple(float(v) for v in raw.get("size_mm", (40, 40, 20))),  # type: ignore[arg-type]
                priority=int(raw.get("priority", 0)),
                due=None if due_hours is None else at + float(due_hours) * H,
                submitted=at,
                copies_per_plate=int(raw.get("copies_per_plate", 1)),
            )
            arrivals.append((at, item, name))
            job_id += 1

    background = data.get("background")
    if background:
        per_day = float(background.get("jobs_per_day", 0))
        count = int(per_day * days)
        if count:
            pool = generate(1, count, seed=int(background.get("seed", seed + 1)), now=start)
            present = set(site_names)
            for n, item in enumerate(pool.jobs):
                at = start + (n + 0.5) * days * 24 * H / count
                pinned = item.site if item.site in present else None
                pref = item.preferred_site if item.preferred_site in present else None
                due = None if item.due is None else at + (item.due - start)
                arrivals.append(
                    (at, replace(item, site=pinned, preferred_site=pref, due=due), None)
                )
    arrivals.sort(key=lambda a: a[0])

    failures = data.get("failures", {})
    return Scenario(
        name=str(data.get("name", "scenario")),
        start=start,
        days=days,
        seed=seed,
        printers=printers,
        sites=sites,
        outages=outages,
        orders=orders,
        arrivals=arrivals,
        run_failure_rate=float(failures.get("run_failure_rate", 0.0)),
        mtbf_hours=float(failures.get("mtbf_hours", 0.0)),
        repair_hours=float(failures.get("repair_hours", 4.0)),
        time_spread=float(data.get("time_spread", 0.0)),
        model_bias=tuple(sorted((str(m), float(b)) for m, b in data.get("model_bias", {}).items())),
        learn_estimates=bool(data.get("learn_estimates", False)),
        replan_hours=float(data.get("replan_hours", 2.0)),
        report_within_days=float(data.get("report_within_days", 5.0)),
        promise_share=(float(data["promises"].get("share", 0.9)) if data.get("promises") else None),
        farm_pass_minutes=float(data.get("farm_pass_minutes", 0.0)),
    )


def _printers(raw: Any, start: float) -> list[PrinterSlot]:
    if isinstance(raw, dict):
        farm = generate(int(raw["generate"]), 0, seed=int(raw.get("seed", 0)), now=start)
        # A farm at the start of a scenario: every printer idle and clear.
        return [replace(p, free_at=start) for p in farm.printers]
    return [printer_from(p, start) for p in raw]
