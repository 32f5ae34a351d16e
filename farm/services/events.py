from __future__ import annotations

import logging
from typing import Any

from farm.models import Event, Job, Printer, PrintRun

log = logging.getLogger("farm.events")


def event_record(
    kind: str,
    *,
    job: Job | None = None,
    run: PrintRun | None = None,
    printer: Printer | None = None,
    actor: Any = None,
    message: str = "",
    **data: Any,
) -> Event:
    if run is not None:
        job = job or run.job
        printer = printer or run.printer
    log.info(
        "%s%s%s%s %s",
        kind,
        f" job={job.pk}" if job else "",
        f" run={run.pk}" if run else "",
        f" printer={printer.name}" if printer else "",
        message,
    )
    return Event.objects.create(
        kind=kind,
        job=job,
        run=run,
        printer=printer,
        actor=actor if actor is not None and actor.is_authenticated else None,
        message=message,
        data=data,
    )
