"""Estimates that learn: every finished run corrects the next estimate for its printer model.

The factors themselves are `farm.scheduling.estimates.Corrections` (plain Python); this module
feeds them finished runs and keeps them in the cache, rebuilt from the database when the cache
has lost them, so learning survives a restart.

A simulated printer prints `speedup` times faster than real time, so the planner sees it as a
model of its own ("Prusa MK4 (simulated x60)") whose print times are wall-clock seconds: the
demo's completion times are the ones the demo will really meet.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache

from farm.models import Printer, PrintRun
from farm.models.printer import ConnectionKind
from farm.scheduling.estimates import Corrections, Observation
from farm.statuses import RunStatus

CACHE_KEY = "scheduling:corrections"
REBUILD_RUNS = 5000  # the newest runs replayed when the cache lost the factors


def time_scale(printer: Printer) -> float:
    """How many seconds of print time pass in one second on this printer."""
    if printer.connection_kind != ConnectionKind.SIMULATED:
        return 1.0
    speedup = (printer.connection_settings or {}).get("speedup") or settings.FARM_SIM_SPEEDUP
    return max(float(speedup), 1e-9)


def plan_model(printer: Printer) -> str:
    scale = time_scale(printer)
    return printer.model if scale == 1.0 else f"{printer.model} (simulated x{scale:g})"


def _observation(run: PrintRun) -> Observation | None:
    job, printer = run.job, run.printer
    if not (job.seconds_per_copy and run.started_at and run.ended_at):
        return None
    return Observation(
        model=plan_model(printer),
        printer_id=printer.pk,
        # The slicer's own estimate, never a corrected one, or the factor would compound.
        estimated_seconds=job.seconds_per_copy * run.copies / time_scale(printer),
        actual_seconds=(run.ended_at - run.started_at).total_seconds(),
    )


def corrections_load() -> Corrections:
    data = cache.get(CACHE_KEY)
    if data is not None:
        return Corrections.from_dict(data)
    corrections = Corrections()
    finished = (
        PrintRun.objects.filter(status__in=(RunStatus.AWAITING_REMOVAL, RunStatus.DONE))
        .exclude(started_at=None)
        .exclude(ended_at=None)
        .select_related("job", "printer")
        .order_by("-ended_at")[:REBUILD_RUNS]
    )
    for run in reversed(list(finished)):
        observation = _observation(run)
        if observation is not None:
            corrections.observe(observation)
    cache.set(CACHE_KEY, corrections.to_dict(), None)
    return corrections


def corrections_observe(*, run: PrintRun) -> None:
    """Learn from one run that printed well (failed runs say nothing about speed)."""
    observation = _observation(run)
    if observation is None:
        return
    # Two runs finishing in the same instant may lose one observation between them; the
    # next rebuild from the database recovers it, so no lock is worth its cost here.
    corrections = corrections_load()
    corrections.observe(observation)
    cache.set(CACHE_KEY, corrections.to_dict(), None)


def corrections_report() -> dict[str, Any]:
    corrections = corrections_load()
    models = sorted(
        set(Printer.objects.values_list("model", flat=True))
        | {plan_model(p) for p in Printer.objects.filter(connection_kind=ConnectionKind.SIMULATED)}
    )
    return {m: round(corrections.model_factor(m), 3) for m in models}
