"""A printer's recent past: temperatures of the last hour (in the cache) and its runs.

The fleet link writes live entries for thousands of printers; a database row per temperature
sample would be thousands of rows a second. The history is a ring of SLOTS cache entries per
printer, one per SAMPLE_SECONDS (the slot is the sample's time bucket modulo SLOTS, so an old
sample is overwritten, never appended: bounded by construction, and expiring with the cache's
TTL). It is written with the live entries, at most one sample per printer and bucket
(`TemperatureHistory`), through Django's cache API so the embedded default works too.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, QuerySet

from farm.models import Event, Printer, PrintRun
from farm.statuses import RunStatus
from printers.drivers.base import DeviceStatus

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 15
SLOTS = 240  # one hour of samples
HISTORY_TTL_SECONDS = SAMPLE_SECONDS * SLOTS


def temperature_key(printer_id: int, slot: int) -> str:
    return f"printer-temps:{printer_id}:{slot}"


class TemperatureHistory:
    """Writes samples; remembers, per process, the bucket each printer was last sampled in,
    so a printer polled every second costs one cache write per SAMPLE_SECONDS, not one per
    poll."""

    def __init__(self) -> None:
        self.sampled: dict[int, int] = {}

    def record(self, seen: Iterable[tuple[int, DeviceStatus, datetime.datetime]]) -> int:
        """Store a sample for each printer whose bucket has none yet; returns how many."""
        entries = {}
        for pk, status, at in seen:
            if not status.temperatures:
                continue
            stamp = at.timestamp()
            bucket = int(stamp // SAMPLE_SECONDS)
            if self.sampled.get(pk) == bucket:
                continue
            self.sampled[pk] = bucket
            entries[temperature_key(pk, bucket % SLOTS)] = (stamp, dict(status.temperatures))
        if entries:
            try:
                cache.set_many(entries, HISTORY_TTL_SECONDS)
            except Exception:  # any cache backend's error: the history is a nicety
                log.warning("temperatures of %d printers not kept", len(entries), exc_info=True)
                return 0
        return len(entries)

    def forget(self) -> None:
        self.sampled.clear()


history = TemperatureHistory()  # one per process: the fleet link's


def temperatures_record(seen: Iterable[tuple[int, DeviceStatus, datetime.datetime]]) -> int:
    return history.record(seen)


@dataclass(frozen=True)
class TemperatureSeries:
    """Samples in time order: `times` POSIX seconds, one list of values per sensor (None
    where a sample lacked that sensor), as the chart takes them."""

    times: list[float]
    sensors: dict[str, list[float | None]]

    def as_json(self) -> dict[str, object]:
        return {"times": self.times, "sensors": self.sensors}


def temperature_series(printer_id: int, *, now: datetime.datetime) -> TemperatureSeries:
    """The last hour's samples of one printer (SLOTS keys in one round trip)."""
    found = cache.get_many([temperature_key(printer_id, slot) for slot in range(SLOTS)])
    oldest = now.timestamp() - HISTORY_TTL_SECONDS
    samples = sorted(value for value in found.values() if value[0] >= oldest)
    names = sorted({name for _, temps in samples for name in temps})
    return TemperatureSeries(
        times=[stamp for stamp, _ in samples],
        sensors={name: [temps.get(name) for _, temps in samples] for name in names},
    )


@dataclass(frozen=True)
class RunSummary:
    """A printer's runs: how many ended how, and the failure reasons most often given."""

    total: int
    outcomes: dict[str, int]
    reasons: list[tuple[str, int]]

    @property
    def failure_rate(self) -> float | None:
        ended = sum(self.outcomes.values())
        if not ended:
            return None
        return self.outcomes.get(RunStatus.FAILED, 0) / ended


def printer_runs(printer: Printer) -> QuerySet[PrintRun]:
    return PrintRun.objects.filter(printer=printer).select_related("job").order_by("-created_at")


def printer_run_summary(printer: Printer) -> RunSummary:
    runs = PrintRun.objects.filter(printer=printer)
    outcomes = dict(
        runs.values_list("status").annotate(n=Count("id")).order_by().values_list("status", "n")
    )
    reasons = list(
        runs.filter(status=RunStatus.FAILED)
        .exclude(failure_reason="")
        .values_list("failure_reason")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("failure_reason", "n")[:5]
    )
    return RunSummary(total=sum(outcomes.values()), outcomes=outcomes, reasons=reasons)


def printer_events(printer: Printer, limit: int = 30) -> QuerySet[Event]:
    return Event.objects.filter(printer=printer).select_related("actor").order_by("-at")[:limit]
