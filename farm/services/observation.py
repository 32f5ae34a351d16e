"""What the fleet link saw: live state to the cache, transitions to the database.

Thousands of printers polled every second would be thousands of row updates a second; the
live picture (progress, temperatures) goes to the cache instead, and only a change of state
writes a row and an event.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from farm.models import Printer, PrintRun
from farm.models.event import EventKind
from farm.models.printer import FREE_TO_START_STATES, PrinterState
from farm.services.enqueue import enqueue_printer_ready
from farm.services.events import event_record
from farm.services.runs import run_fail, run_finish, run_set_paused
from farm.statuses import RUN_ACTIVE, RunStatus
from printers.drivers.base import DeviceStatus
from printers.states import DeviceState

LIVE_TTL_SECONDS = 120  # a printer whose live entry is older than this shows as unknown


def live_key(printer_id: int) -> str:
    return f"printer-live:{printer_id}"


def printer_live(printer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest live status of each printer (missing when the fleet link has not seen it)."""
    found = cache.get_many([live_key(pk) for pk in printer_ids])
    return {int(key.rsplit(":", 1)[1]): value for key, value in found.items()}


def printer_observe(*, printer: Printer, status: DeviceStatus) -> None:
    """Record one poll of one printer: always the cache, and the database on a transition."""
    now = timezone.now()
    live = asdict(status)
    live["state"] = status.state.value
    live["at"] = now.isoformat()
    cache.set(live_key(printer.pk), live, LIVE_TTL_SECONDS)

    if status.state.value != printer.state:
        _record_state_change(printer, status, now)
    run = printer.current_run
    if run is None or run.status not in RUN_ACTIVE:
        return
    ours = status.job_name == run.job_name
    if status.state is DeviceState.FINISHED and ours:
        run_finish(run_id=run.pk)
    elif status.state is DeviceState.ERROR and run.status != RunStatus.DISPATCHING:
        run_fail(
            run_id=run.pk,
            reason=status.message or "the printer reported an error",
            progress=status.progress,
        )
    elif status.state is DeviceState.PAUSED and ours:
        run_set_paused(run_id=run.pk, paused=True)
    elif status.state is DeviceState.PRINTING and ours and run.status == RunStatus.PAUSED:
        run_set_paused(run_id=run.pk, paused=False)
    elif status.state is DeviceState.READY and _stopped_at_printer(run, now):
        run_fail(
            run_id=run.pk, reason="the print was stopped at the printer", progress=status.progress
        )
    elif status.state is DeviceState.OFFLINE and _offline_too_long(printer, now):
        run_fail(
            run_id=run.pk,
            reason="the printer went offline during the print (interrupted)",
            progress=status.progress,
        )


def _stopped_at_printer(run: PrintRun, now: datetime.datetime) -> bool:
    # A poll taken just before dispatch started the print also says READY: only believe it
    # once the run has been printing for longer than a poll can lag behind.
    if run.status not in (RunStatus.PRINTING, RunStatus.PAUSED) or run.started_at is None:
        return False
    lag = datetime.timedelta(seconds=2 * settings.FARM_POLL_SECONDS + 5)
    return now - run.started_at > lag


def _offline_too_long(printer: Printer, now: datetime.datetime) -> bool:
    # A network blip is not a failed print: OctoPrint goes on printing while we cannot see it.
    since = printer.state_changed_at or now
    grace = datetime.timedelta(seconds=settings.FARM_OFFLINE_GRACE_SECONDS)
    return printer.state == PrinterState.OFFLINE and now - since >= grace


def _record_state_change(printer: Printer, status: DeviceStatus, now: datetime.datetime) -> None:
    with transaction.atomic():
        updated = Printer.objects.filter(pk=printer.pk, state=printer.state).update(
            state=status.state.value, state_message=status.message[:200], state_changed_at=now
        )
        if updated != 1:
            return  # another fleet link process recorded it first
        event_record(
            EventKind.PRINTER_STATE,
            printer=printer,
            message=status.message,
            old=printer.state,
            new=status.state.value,
        )
    printer.state = status.state.value
    printer.state_message = status.message[:200]
    printer.state_changed_at = now
    if status.state.value in FREE_TO_START_STATES:
        enqueue_printer_ready(printer.pk)
