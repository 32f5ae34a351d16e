"""The next run for one printer that just became ready, in milliseconds, without a full plan.

The engine behind `farm.scheduling.plan` can also decide one printer at a time. A worker
process keeps the engine it last built and asks it when a printer frees up; the engine is
rebuilt from the database when it is older than a scheduling period (at 5,000 printers and
40,000 jobs that rebuild takes seconds, paid by the decision that finds the engine old). A
stale engine is safe: `runs_create` refuses copies that are no longer waiting and printers
another process took, and anything the engine cannot place falls back to a full pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from farm.models import Printer
from farm.scheduling import Engine
from farm.services.plan_inputs import PlanInputs, plan_inputs, to_timestamp
from farm.services.scheduling import StartOutcome, assignment_start, is_due_now


@dataclass
class _Kept:
    engine: Engine
    inputs: PlanInputs
    built: float


_kept: _Kept | None = None  # per worker process


def _engine() -> _Kept:
    global _kept
    if _kept is None or time.monotonic() - _kept.built > settings.FARM_SCHEDULE_SECONDS:
        inputs = plan_inputs()
        engine = Engine(
            inputs.slots,
            inputs.items,
            now=to_timestamp(inputs.now),
            sites=inputs.sites,
            options=inputs.options,
        )
        _kept = _Kept(engine, inputs, time.monotonic())
    return _kept


def forget_engine() -> None:
    global _kept
    _kept = None


def printer_next_run(*, printer_id: int) -> StartOutcome:
    """Start (or ask filament for) the printer's next run, if it is due now."""
    printer = Printer.objects.select_related("material", "site").get(pk=printer_id)
    # A down site's printers take no work (the kept engine may predate its going down).
    if not printer.available or not printer.site.online:
        return StartOutcome.NOT_STARTED
    kept = _engine()
    if printer_id not in kept.engine.pos_of:
        forget_engine()  # a printer the engine has not seen: rebuild next time
        return StartOutcome.NOT_STARTED
    now = to_timestamp(timezone.now())
    a = kept.engine.next_for_printer(
        printer_id,
        at=now,
        material=printer.material.name if printer.material else "",
        colour=printer.colour,
    )
    rules = kept.inputs.sites.get(printer.site.slug)
    if a is None or not is_due_now(a, now, rules) or a.job_id not in kept.inputs.jobs:
        return StartOutcome.NOT_STARTED
    return assignment_start(a, kept.inputs, printer)
