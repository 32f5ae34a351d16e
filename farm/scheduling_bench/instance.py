"""Planning instances as JSON, and a generator of realistic random ones.

Instance file format (one JSON object; times are POSIX seconds, durations seconds, sizes mm)::

    {
      "now": 1795392000,                      # optional, default 0
      "sites": {                              # optional; a site without rules imposes none
        "A": {"staffed_hours": [[8, 17]],     # local (start, end) hours; [] = always staffed
              "staffed_weekdays": [0,1,2,3,4],# Monday = 0
              "utc_offset_hours": 1,
              "clear_seconds": 120,           # a person clearing one bed
              "change_seconds": 600,          # a person swapping material/colour
              "max_heating": 50,              # printers heating at once; 0 = no limit
              "heat_seconds": 300,
              "down": [[t0, t1]]}             # whole site offline
      },
      "options": {"allow_material_changes": true, "due_bucket_seconds": 86400,
                  "night_wait_seconds": 3600},  # optional
      "printers": [
        {"id": 1, "site": "A", "model": "MK4", "build_mm": [250, 210, 220], "nozzle_mm": 0.4,
         "material": "PLA", "colour": "black",
         "free_at": 1795392000,               # optional, default now
         "materials": ["PLA", "PETG"],        # optional: what it can print at all; [] = any
         "needs_clearing": false, "auto_eject": false,
         "maintenance": [[t0, t1]]}           # optional
      ],
      "jobs": [
        {"job_id": 1, "copies": 4, "seconds_per_copy": 5400, "material": "PLA",
         "colour": "",                        # "" = any colour
         "size_mm": [60, 40, 30],
         "nozzle_mm": null, "priority": 0,    # -1 low, 0 normal, 1 high, 2 rush
         "due": 1795564800, "submitted": 1795300000,
         "site": null,                        # must print there
         "preferred_site": "B",               # printing elsewhere counts as one day later
         "copies_per_plate": 2,
         "model_seconds": {"MINI": 6000}}     # per-model seconds per copy, where known
      ]
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from farm.scheduling.types import Plan, PlanOptions, PrinterSlot, SiteRules, WorkItem

MONDAY = 1795392000.0  # 2026-11-23 00:00 UTC, a Monday: generated instances start here


@dataclass(frozen=True)
class Instance:
    now: float
    printers: list[PrinterSlot]
    jobs: list[WorkItem]
    sites: dict[str, SiteRules]
    options: PlanOptions


def _windows(raw: Any) -> tuple[tuple[float, float], ...]:
    return tuple((float(a), float(b)) for a, b in raw or ())


def site_rules(raw: dict[str, Any]) -> SiteRules:
    known = {f.name for f in fields(SiteRules)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown site rule(s): {', '.join(sorted(unknown))}")
    return SiteRules(
        staffed_hours=tuple((float(a), float(b)) for a, b in raw.get("staffed_hours", ())),
        staffed_weekdays=tuple(raw.get("staffed_weekdays", range(7))),
        utc_offset_hours=float(raw.get("utc_offset_hours", 0.0)),
        clear_seconds=float(raw.get("clear_seconds", 0.0)),
        change_seconds=float(raw.get("change_seconds", 0.0)),
        max_heating=int(raw.get("max_heating", 0)),
        heat_seconds=float(raw.get("heat_seconds", 300.0)),
        down=_windows(raw.get("down")),
    )


def printer_from(raw: dict[str, Any], now: float) -> PrinterSlot:
    return PrinterSlot(
        id=int(raw["id"]),
        site=str(raw["site"]),
        model=str(raw["model"]),
        free_at=float(raw.get("free_at", now)),
        material=str(raw.get("material", "")),
        colour=str(raw.get("colour", "")),
        nozzle_mm=float(raw.get("nozzle_mm", 0.4)),
        build_mm=tuple(float(v) for v in raw["build_mm"]),  # type: ignore[arg-type]
        materials=frozenset(raw.get("materials", ())),
        needs_clearing=bool(raw.get("needs_clearing", False)),
        auto_eject=bool(raw.get("auto_eject", False)),
        maintenance=_windows(raw.get("maintenance")),
    )


def job_from(raw: dict[str, Any]) -> WorkItem:
    nozzle = raw.get("nozzle_mm")
    due = raw.get("due")
    return WorkItem(
        job_id=int(raw["job_id"]),
        copies=int(raw["copies"]),
        seconds_per_copy=float(raw["seconds_per_copy"]),
        material=str(raw["material"]),
        colour=str(raw.get("colour", "")),
        size_mm=tuple(float(v) for v in raw["size_mm"]),  # type: ignore[arg-type]
        nozzle_mm=None if nozzle is None else float(nozzle),
        priority=int(raw.get("priority", 0)),
        due=None if due is None else float(due),
        submitted=float(raw.get("submitted", 0.0)),
        site=raw.get("site"),
        preferred_site=raw.get("preferred_site"),
        copies_per_plate=int(raw.get("copies_per_plate", 1)),
        model_seconds=tuple(
            sorted((str(m), float(s)) for m, s in raw.get("model_seconds", {}).items())
        ),
    )


def load(path: str | Path) -> Instance:
    data = json.loads(Path(path).read_text())
    return from_dict(data)


def from_dict(data: dict[str, Any]) -> Instance:
    now = float(data.get("now", 0.0))
    return Instance(
        now=now,
        printers=[printer_from(p, now) for p in data["printers"]],
        jobs=[job_from(j) for j in data["jobs"]],
        sites={name: site_rules(r) for name, r in data.get("sites", {}).items()},
        options=PlanOptions(**data.get("options", {})),
    )


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan as rows anyone can check: each run's job, printer, copies, start and end."""
    return [
        {
            "job_id": a.job_id,
            "printer_id": a.printer_id,
            "copies": a.copies,
            "start": a.start,
            "end": a.end,
            "material_change": a.material_change,
        }
        for a in plan.assignments
    ]


MODELS = {  # name: (build volume, share, materials it can print; empty = any)
    "MK4": ((250.0, 210.0, 220.0), 0.5, frozenset({"PLA", "PETG", "TPU"})),
    "MINI": ((180.0, 180.0, 180.0), 0.2, frozenset({"PLA", "PETG", "TPU"})),
    "K1": ((220.0, 220.0, 250.0), 0.15, frozenset()),
    "XL": ((360.0, 360.0, 360.0), 0.15, frozenset()),
}
SITES = ("A", "B", "C", "D")
MATERIALS = ("PLA", "PETG", "ABS")
COLOURS = ("black", "white", "grey", "red")


def generate(
    n_printers: int, n_jobs: int, *, seed: int = 0, now: float = MONDAY, first_id: int = 1
) -> Instance:
    """A farm like the one in the mission: four sites, four printer models, three nozzles,
    three materials in four colours, jobs of 1 to 10 copies with 20 min to 16 h per copy,
    some pinned to a site, half with due dates in the coming week. No site rules (no setups).
    """
    rng = np.random.default_rng(seed)
    names = list(MODELS)
    shares = np.array([MODELS[m][1] for m in names])
    model = rng.choice(len(names), size=n_printers, p=shares / shares.sum())
    site = rng.choice(len(SITES), size=n_printers, p=[0.4, 0.3, 0.2, 0.1])
    nozzle = rng.choice([0.4, 0.6, 0.25], size=n_printers, p=[0.75, 0.15, 0.10])
    material = rng.choice(len(MATERIALS), size=n_printers, p=[0.6, 0.3, 0.1])
    colour = rng.integers(0, len(COLOURS), size=n_printers)
    busy = rng.random(n_printers) < 0.6
    free = now + np.where(busy, rng.uniform(0, 4 * 3600, n_printers), 0.0)
    printers = []
    for i in range(n_printers):
        name = names[model[i]]
        build, _, can = MODELS[name]
        loaded = MATERIALS[material[i]]
        if can and loaded not in can:
            loaded = "PLA"
        printers.append(
            PrinterSlot(
                id=first_id + i,
                site=SITES[site[i]],
                model=name,
                free_at=float(free[i]),
                material=loaded,
                colour=COLOURS[colour[i]],
                nozzle_mm=float(nozzle[i]),
                build_mm=build,
                materials=can,
            )
        )

    copies = np.where(
        rng.random(n_jobs) < 0.6,
        1,
        np.where(
            rng.random(n_jobs) < 0.75, rng.integers(2, 5, n_jobs), rng.integers(5, 11, n_jobs)
        ),
    )
    seconds = np.clip(rng.lognormal(np.log(2.5 * 3600), 0.8, n_jobs), 1200, 16 * 3600)
    kind = rng.random(n_jobs)
    sx = np.where(kind < 0.05, rng.uniform(260, 350, n_jobs), rng.uniform(20, 170, n_jobs))
    sy = np.where(kind < 0.05, rng.uniform(100, 350, n_jobs), rng.uniform(20, 170, n_jobs))
    sz = np.where(
        (kind > 0.05) & (kind < 0.15), rng.uniform(225, 245, n_jobs), rng.uniform(5, 170, n_jobs)
    )
    job_material = rng.choice(len(MATERIALS), size=n_jobs, p=[0.65, 0.25, 0.10])
    any_colour = rng.random(n_jobs) < 0.4
    job_colour = rng.integers(0, len(COLOURS), n_jobs)
    nozzle_pick = rng.random(n_jobs)
    restricted = rng.random(n_jobs) < 0.05
    preferred = rng.random(n_jobs) < 0.3
    job_site = rng.integers(0, len(SITES), n_jobs)
    priority = rng.choice([0, 1, 2, -1], size=n_jobs, p=[0.8, 0.12, 0.03, 0.05])
    has_due = rng.random(n_jobs) < 0.5
    due = now + rng.uniform(1, 7, n_jobs) * 86400
    # Several copies share a plate only for small, short parts.
    small = (seconds < 2 * 3600) & (sx < 100) & (sy < 100)
    per_plate = np.where(small & (rng.random(n_jobs) < 0.4), rng.integers(2, 5, n_jobs), 1)
    jobs = []
    for j in range(n_jobs):
        jobs.append(
            WorkItem(
                job_id=first_id + j,
                copies=int(copies[j]),
                seconds_per_copy=float(round(seconds[j])),
                material=MATERIALS[job_material[j]],
                colour="" if any_colour[j] else COLOURS[job_colour[j]],
                size_mm=(float(sx[j]), float(sy[j]), float(sz[j])),
                nozzle_mm=None if nozzle_pick[j] < 0.8 else (0.4 if nozzle_pick[j] < 0.95 else 0.6),
                priority=int(priority[j]),
                due=float(due[j]) if has_due[j] else None,
                submitted=now - float(j),
                site=SITES[job_site[j]] if restricted[j] else None,
                preferred_site=SITES[job_site[j]] if preferred[j] and not restricted[j] else None,
                copies_per_plate=int(per_plate[j]),
            )
        )
    return Instance(now=now, printers=printers, jobs=jobs, sites={}, options=PlanOptions())


def to_dict(instance: Instance) -> dict[str, Any]:
    """The instance in the file format above (so a generated one can be saved and shared)."""
    printers = []
    for p in instance.printers:
        printers.append(
            {
                "id": p.id,
                "site": p.site,
                "model": p.model,
                "build_mm": list(p.build_mm),
                "nozzle_mm": p.nozzle_mm,
                "material": p.material,
                "colour": p.colour,
                "free_at": p.free_at,
                "materials": sorted(p.materials),
                "needs_clearing": p.needs_clearing,
                "auto_eject": p.auto_eject,
                "maintenance": [list(w) for w in p.maintenance],
            }
        )
    jobs = []
    for w in instance.jobs:
        jobs.append(
            {
                "job_id": w.job_id,
                "copies": w.copies,
                "seconds_per_copy": w.seconds_per_copy,
                "material": w.material,
                "colour": w.colour,
                "size_mm": list(w.size_mm),
                "nozzle_mm": w.nozzle_mm,
                "priority": w.priority,
                "due": w.due,
                "submitted": w.submitted,
                "site": w.site,
                "preferred_site": w.preferred_site,
                "copies_per_plate": w.copies_per_plate,
                "model_seconds": dict(w.model_seconds),
            }
        )
    sites = {}
    for name, r in instance.sites.items():
        sites[name] = {
            "staffed_hours": [list(h) for h in r.staffed_hours],
            "staffed_weekdays": list(r.staffed_weekdays),
            "utc_offset_hours": r.utc_offset_hours,
            "clear_seconds": r.clear_seconds,
            "change_seconds": r.change_seconds,
            "max_heating": r.max_heating,
            "heat_seconds": r.heat_seconds,
            "down": [list(w) for w in r.down],
        }
    return {"now": instance.now, "sites": sites, "printers": printers, "jobs": jobs}
