"""What the fleet link saw: live state to the cache, transitions to the database.

Thousands of printers reporting every few seconds would be thousands of row updates a second;
the live picture (progress, temperatures) goes to the cache instead, many printers in one
round trip (`printers_live_record`), and only a change of state writes a row and an event
(`printer_observe`, which the fleet link calls only for printers where something may have
changed: farm/services/fleet_recorder.py).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from farm.models import Printer, PrintRun
from farm.models.event import EventKind
from farm.models.printer import FREE_TO_START_STATES
from farm.services.doubt import run_contact_back, run_interrupt, run_mark_in_doubt
from farm.services.enqueue import enqueue_printer_ready
from farm.services.events import event_record
from farm.services.fleet_feed import fleet_changes_publish
from farm.services.printer_history import temperatures_record
from farm.services.runs import run_fail, run_finish, run_set_paused
from farm.statuses import RUN_ACTIVE, RunStatus
from printers.drivers.base import DeviceStatus
from printers.states import (
    ERROR_STATES,
    IDLE_STATES,
    PAUSED_STATES,
    PRINTING_STATES,
    UNREACHABLE_STATES,
    DeviceState,
)

log = logging.getLogger(__name__)

LIVE_TTL_SECONDS = 120  # a printer whose live entry is older than this shows as unknown


def live_key(printer_id: int) -> str:
    return f"printer-live:{printer_id}"


def printer_live(printer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest live status of each printer (missing when the fleet link has not seen it)."""
    found = cache.get_many([live_key(pk) for pk in printer_ids])
    return {int(key.rsplit(":", 1)[1]): value for key, value in found.items()}


def live_entry(status: DeviceStatus, at: datetime.datetime) -> dict[str, Any]:
    """A printer's live entry in the cache, as `printer_live` reads it: the status's fields
    (built by hand: `dataclasses.asdict` deep-copies, a cost paid thousands of times a
    second by the fleet link), the state as text, and when it was seen."""
    return {
        "state": status.state.value,
        "job_name": status.job_name,
        "progress": status.progress,
        "seconds_left": status.seconds_left,
        "temperatures": dict(status.temperatures),
        "message": status.message,
        "at": at.isoformat(),
    }


def printers_live_record(seen: list[tuple[int, DeviceStatus, datetime.datetime]]) -> None:
    """The live state of many printers (id, status, when seen), in one round trip."""
    if not seen:
        return
    entries = {live_key(pk): live_entry(status, at) for pk, status, at in seen}
    try:
        cache.set_many(entries, LIVE_TTL_SECONDS)
        fleet_changes_publish(pk for pk, _, _ in seen)
        temperatures_record(seen)  # the printer page's chart: a bounded ring per printer
    except Exception:  # any cache backend's error
        # The cache (Redis) restarting must not stop the transitions reaching the database:
        # the dashboard falls back to the recorded state until it is back.
        log.warning("live state of %d printers not cached", len(entries), exc_info=True)


def printer_observe(*, printer: Printer, status: DeviceStatus, cached: bool = False) -> None:
    """Record one status of one printer: the cache (unless the caller `cached` it already),
    and the database on a transition (of the state, or of the reason the printer gives)."""
    now = timezone.now()
    if not cached:
        printers_live_record([(printer.pk, status, now)])

    was_unreachable = printer.state in UNREACHABLE_STATES
    if status.state.value != printer.state:
        _record_state_change(printer, status, now)
    elif status.message[:200] != printer.state_message:
        # The same state for a new reason ("connecting, attempt 3", "wrong API key"): the
        # dashboard shows the reason of now, and the state keeps its time of change.
        Printer.objects.filter(pk=printer.pk).update(state_message=status.message[:200])
        printer.state_message = status.message[:200]
    run = printer.current_run
    if run is None or run.status not in RUN_ACTIVE or run.status == RunStatus.DISPATCHING:
        _observe_dispatching(run, status)
        return
    reachable = status.state not in UNREACHABLE_STATES
    if reachable and (run.status == RunStatus.IN_DOUBT or was_unreachable):
        _reconcile(run, status)
    elif not reachable:
        if _unreachable_too_long(printer, now):
            run_mark_in_doubt(
                run_id=run.pk,
                reason=f"the printer has not answered for "
                f"{settings.FARM_OFFLINE_GRACE_SECONDS:.0f} s: {status.message or 'no answer'}",
            )
    else:
        _follow(run, status, now)


def _observe_dispatching(run: PrintRun | None, status: DeviceStatus) -> None:
    # The fleet link saw the print of a run whose dispatch has not recorded its start yet.
    if run is None or run.status != RunStatus.DISPATCHING or status.job_name != run.job_name:
        return
    if status.state is DeviceState.FINISHED:
        run_finish(run_id=run.pk)


def _follow(run: PrintRun, status: DeviceStatus, now: datetime.datetime) -> None:
    """A printer in touch all along: its report moves the run on."""
    ours = status.job_name == run.job_name
    if status.state is DeviceState.FINISHED and ours:
        run_finish(run_id=run.pk)
    elif status.state in ERROR_STATES:
        run_fail(
            run_id=run.pk,
            reason=status.message or "the printer reported an error",
            progress=status.progress,
        )
    elif status.state in PAUSED_STATES and ours:
        run_set_paused(run_id=run.pk, paused=True)
    elif status.state in PRINTING_STATES and ours and run.status == RunStatus.PAUSED:
        run_set_paused(run_id=run.pk, paused=False)
    elif status.state in IDLE_STATES and _stopped_at_printer(run, now):
        run_fail(
            run_id=run.pk, reason="the print was stopped at the printer", progress=status.progress
        )


def _reconcile(run: PrintRun, status: DeviceStatus) -> None:
    """The printer answers after a silence: the run is whatever the printer says it did."""
    ours = status.job_name == run.job_name
    if ours and status.state is DeviceState.FINISHED:
        run_finish(run_id=run.pk)
    elif ours and status.state in PRINTING_STATES | PAUSED_STATES:
        if run.status == RunStatus.IN_DOUBT:
            run_contact_back(run_id=run.pk, paused=status.state in PAUSED_STATES)
    else:
        if status.state in ERROR_STATES:
            doing = f"in error ({status.message or 'no reason given'})"
        elif status.job_name and not ours:
            doing = f"printing {status.job_name}"
        else:
            doing = "idle"
        run_interrupt(
            run_id=run.pk,
            reason=f"the printer answers again but is {doing}, not printing this run: "
            "say whether the part is good or lost",
            progress=status.progress if ours else None,
        )


def _stopped_at_printer(run: PrintRun, now: datetime.datetime) -> bool:
    # A poll taken just before dispatch started the print also says READY: only believe it
    # once the run has been printing for longer than a poll can lag behind.
    if run.status not in (RunStatus.PRINTING, RunStatus.PAUSED) or run.started_at is None:
        return False
    lag = datetime.timedelta(seconds=2 * settings.FARM_POLL_SECONDS + 5)
    return now - run.started_at > lag


def _unreachable_too_long(printer: Printer, now: datetime.datetime) -> bool:
    # A network blip is not a failed print: OctoPrint goes on printing while we cannot see it.
    since = printer.state_changed_at or now
    grace = datetime.timedelta(seconds=settings.FARM_OFFLINE_GRACE_SECONDS)
    return printer.state in UNREACHABLE_STATES and now - since >= grace


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
