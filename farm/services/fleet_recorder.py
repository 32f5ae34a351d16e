"""What the fleet link saw, recorded in batches: one cache round trip, few database queries.

Every tick the link hands over the latest status of each printer it heard from. Those that
say something new (or whose entry is LIVE_REFRESH_S old) go to the cache in one `set_many`. The database sees only the printers where something may
have changed, decided in memory against what this process last read from (or wrote to) the
database (`_Known`):

- a printer this recorder has not examined yet (a link starting reconciles everything once);
- a state or a reason that differs from the recorded one (a transition);
- a printer with an active run whose status does not simply say "printing it" (silent, idle,
  another file ...), again every `EXAMINE_EVERY_S` even if nothing new was heard, so that the
  in-doubt grace (FARM_OFFLINE_GRACE_SECONDS) fires for a printer that has gone quiet and the
  "stopped at the printer" lag runs out.

Those printers are loaded in one query, each goes through `printer_observe` (the same logic
as ever: runs followed, reconciled, put in doubt; each transition wakes the planner), all in
one transaction with a savepoint each (one printer's failure is logged and stays its own),
and what they now are is read back in one more query.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, transaction

from farm.models import Printer, PrintRun
from farm.services.observation import printer_observe, printers_live_record
from farm.statuses import RUN_ACTIVE, RunStatus
from printers.drivers.base import DeviceStatus
from printers.fleetlink import Observation
from printers.states import PAUSED_STATES, PRINTING_STATES, DeviceState

log = logging.getLogger(__name__)

EXAMINE_EVERY_S = 5.0
MAX_EXAMINED_PER_TICK = 500  # the rest wait for the next tick: the live writes never do
CHUNK = 1000  # ids per IN (...) list
KNOWN_REFRESH_S = 60.0  # runs changed by others (dispatch, operators) are read back this often
# A printer saying the same thing again is written again this often (its "at", last seen, is
# at most this old); the cache keeps an entry LIVE_TTL_SECONDS (120 s).
LIVE_REFRESH_S = 30.0


@dataclass(frozen=True)
class _Known:
    state: str
    message: str
    run_status: str | None
    run_job: str


def _all_well(known: _Known, status: DeviceStatus) -> bool:
    """Nothing for `printer_observe` to do: no run, or the printer plainly doing its run."""
    if known.run_status not in RUN_ACTIVE:
        return True
    ours = status.job_name == known.run_job
    if known.run_status == RunStatus.DISPATCHING:
        return not (ours and status.state is DeviceState.FINISHED)
    if known.run_status == RunStatus.PRINTING:
        return ours and status.state in PRINTING_STATES
    if known.run_status == RunStatus.PAUSED:
        return ours and status.state in PAUSED_STATES
    return False  # in doubt: examined until the printer says what became of it


class FleetRecorder:
    """`record` for `FleetLink`: call it with each tick's observations (even none)."""

    def __init__(self) -> None:
        self.known: dict[int, _Known] = {}
        self.latest: dict[int, DeviceStatus] = {}
        self.examined_at: dict[int, float] = {}
        self.pending: set[int] = set()
        self._known_read_at = time.monotonic()
        self._written: dict[int, tuple[tuple[Any, ...], float]] = {}
        self.examined_total = 0
        self.live_written = 0

    def __call__(self, observations: Sequence[Observation]) -> None:
        close_old_connections()  # the link runs for days: survive a database restart
        now = time.monotonic()
        printers_live_record(self._live_changes(observations, now))
        for o in observations:
            self.latest[o.target.key] = o.status
            self.pending.add(o.target.key)
        due = [key for key in self.pending if self._needs_examining(key, now)]
        due += [
            key
            for key, known in self.known.items()
            if key not in self.pending
            and key in self.latest
            and not _all_well(known, self.latest[key])
            and now - self.examined_at.get(key, 0.0) >= EXAMINE_EVERY_S
        ]
        batch, later = due[:MAX_EXAMINED_PER_TICK], due[MAX_EXAMINED_PER_TICK:]
        self.pending = set(later)
        if batch:
            try:
                self._examine(batch, now)
            except Exception:
                self.pending.update(batch)  # the database went away: again next tick
                raise
        if now - self._known_read_at >= KNOWN_REFRESH_S:
            self._known_read_at = now
            self._read_known(list(self.known))

    def _live_changes(
        self, observations: Sequence[Observation], now: float
    ) -> list[tuple[int, DeviceStatus, datetime.datetime]]:
        """The observations worth a cache write: what a printer says changed, or its entry
        is LIVE_REFRESH_S old (so it never expires while the printer is in touch)."""
        changed = []
        for o in observations:
            s = o.status
            temperatures = tuple(sorted(s.temperatures.items()))
            content = (s.state, s.job_name, s.progress, s.seconds_left, temperatures, s.message)
            last = self._written.get(o.target.key)
            if last is None or last[0] != content or now - last[1] >= LIVE_REFRESH_S:
                self._written[o.target.key] = (content, now)
                at = datetime.datetime.fromtimestamp(o.at, tz=datetime.UTC)
                changed.append((o.target.key, s, at))
        self.live_written += len(changed)
        return changed

    def forget(self, keys: Iterable[int]) -> None:
        """Printers no longer watched by this process (another shard has them)."""
        for key in keys:
            self._written.pop(key, None)
            for table in (self.known, self.latest, self.examined_at):
                table.pop(key, None)
            self.pending.discard(key)

    def _needs_examining(self, key: int, now: float) -> bool:
        known, status = self.known.get(key), self.latest[key]
        if known is None or key not in self.examined_at:
            return True
        if status.state.value != known.state or status.message[:200] != known.message:
            return True
        if _all_well(known, status):
            return False
        return now - self.examined_at[key] >= EXAMINE_EVERY_S

    def _examine(self, keys: list[int], now: float) -> None:
        printers: list[Printer] = []
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            printers += Printer.objects.select_related("current_run").filter(pk__in=chunk)
        with transaction.atomic():
            for printer in printers:
                try:
                    with transaction.atomic():
                        printer_observe(
                            printer=printer, status=self.latest[printer.pk], cached=True
                        )
                except Exception:
                    # One printer's bad record must not stop the watch over all the others.
                    log.exception("recording the status of printer %s failed", printer.pk)
        for key in keys:
            self.examined_at[key] = now
        self.examined_total += len(keys)
        self._read_known(keys)

    def _read_known(self, keys: list[int]) -> None:
        found: set[int] = set()
        for start in range(0, len(keys), CHUNK):
            rows = Printer.objects.filter(pk__in=keys[start : start + CHUNK]).values_list(
                "pk",
                "state",
                "state_message",
                "current_run",
                "current_run__status",
                "current_run__created_at",
            )
            for pk, state, message, run_id, run_status, run_created in rows:
                run_job = PrintRun(pk=run_id, created_at=run_created).job_name if run_id else ""
                self.known[pk] = _Known(state, message, run_status, run_job)
                found.add(pk)
        self.forget(set(keys) - found)  # deleted meanwhile
