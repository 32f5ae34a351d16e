"""The statistics page: throughput, utilisation, success and failure reasons, completion-time
SLA, estimate accuracy, filament used; for a date range and optionally one site.

Counts and sums are SQL aggregations (one query per table below, grouped by day in the
site's time zone, or the farm's). The estimate-error percentiles are the one exception:
SQL has no portable percentile, so the two durations of each run are read and summarised
by `farm.scheduling.estimates.error_summary`, the same function `farm_report` uses.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least, TruncDate
from django.utils import timezone

from farm.models import Job, Printer, PrintRun, Site
from farm.scheduling.estimates import error_summary
from farm.statuses import RUN_PRINTED, JobStatus, RunStatus

ENDED = (RunStatus.FAILED, RunStatus.CANCELLED, *RUN_PRINTED)


@dataclass(frozen=True)
class StatsFilter:
    start: datetime.date  # first day, inclusive
    end: datetime.date  # last day, inclusive
    site: Site | None = None
    sla_days: float = 5.0

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.site.timezone if self.site else settings.TIME_ZONE)

    @property
    def start_at(self) -> datetime.datetime:
        return datetime.datetime.combine(self.start, datetime.time(), self.tz)

    @property
    def end_at(self) -> datetime.datetime:
        return datetime.datetime.combine(
            self.end + datetime.timedelta(days=1), datetime.time(), self.tz
        )

    @property
    def days(self) -> list[datetime.date]:
        n = (self.end - self.start).days + 1
        return [self.start + datetime.timedelta(days=i) for i in range(max(n, 0))]


def stats_filter(
    *, start: str = "", end: str = "", site: str = "", sla_days: str = ""
) -> StatsFilter:
    """A filter from the page's query string; bad or missing values mean the last 30 days,
    every site, 5 days."""
    today = timezone.localdate()

    def day(text: str, default: datetime.date) -> datetime.date:
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            return default

    last = day(end, today)
    first = day(start, last - datetime.timedelta(days=29))
    if first > last:
        first, last = last, first
    first = max(first, last - datetime.timedelta(days=366))  # a year at most per page
    chosen = Site.objects.filter(slug=site).first() if site else None
    try:
        within = min(max(float(sla_days), 0.1), 365.0) if sla_days else 5.0
    except ValueError:
        within = 5.0
    return StatsFilter(first, last, chosen, within)


def _runs(f: StatsFilter) -> QuerySet[PrintRun]:
    runs = PrintRun.objects.filter(
        ended_at__gte=f.start_at, ended_at__lt=f.end_at, status__in=ENDED
    )
    return runs.filter(printer__site=f.site) if f.site else runs


def _duration() -> ExpressionWrapper:
    return ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, datetime.timedelta) else float(value or 0)


@dataclass
class Table:
    """One section of the page: a table to show, export as CSV, and chart."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


def throughput(f: StatsFilter) -> Table:
    """Pieces printed, runs printed and runs failed, per day."""
    per_day = {
        r["day"]: r
        for r in _runs(f)
        .annotate(day=TruncDate("ended_at", tzinfo=f.tz))
        .values("day")
        .annotate(
            pieces=Coalesce(Sum("copies", filter=Q(status__in=RUN_PRINTED)), 0),
            printed=Count("pk", filter=Q(status__in=RUN_PRINTED)),
            failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
        )
        .order_by("day")
    }
    table = Table("Throughput per day", ["day", "pieces", "runs printed", "runs failed"])
    for d in f.days:
        r = per_day.get(d, {})
        table.rows.append(
            [d.isoformat(), r.get("pieces", 0), r.get("printed", 0), r.get("failed", 0)]
        )
    return table


def utilisation(f: StatsFilter) -> Table:
    """Share of the period each site's printers of each model spent printing (any outcome),
    a run's time clipped to the period."""
    runs = PrintRun.objects.filter(started_at__lt=f.end_at, started_at__isnull=False).filter(
        Q(ended_at__gte=f.start_at) | Q(ended_at__isnull=True)
    )
    if f.site:
        runs = runs.filter(printer__site=f.site)
    now = timezone.now()
    at: DateTimeField[Any, Any] = DateTimeField()
    clipped = ExpressionWrapper(
        Least(Coalesce("ended_at", Value(now), output_field=at), Value(f.end_at), output_field=at)
        - Greatest(F("started_at"), Value(f.start_at), output_field=at),
        output_field=DurationField(),
    )
    busy = {
        (r["printer__site__name"], r["printer__model"]): _seconds(r["busy"])
        for r in runs.values("printer__site__name", "printer__model")
        .annotate(busy=Sum(clipped))
        .order_by()
    }
    printers = Printer.objects.filter(enabled=True)
    if f.site:
        printers = printers.filter(site=f.site)
    counts = (
        printers.values("site__name", "model")
        .annotate(n=Count("pk"))
        .order_by("site__name", "model")
    )
    period = (min(f.end_at, now) - f.start_at).total_seconds()
    table = Table(
        "Utilisation per site and model",
        ["site", "model", "printers", "printing hours", "utilisation"],
    )
    for c in counts:
        seconds = busy.get((c["site__name"], c["model"]), 0.0)
        share = seconds / (c["n"] * period) if period > 0 and c["n"] else 0.0
        table.rows.append(
            [c["site__name"], c["model"], c["n"], round(seconds / 3600, 1), round(share, 4)]
        )
    return table


def outcomes(f: StatsFilter) -> Table:
    """Runs that ended in the period by outcome, and the success rate."""
    counts = dict(_runs(f).values("status").annotate(n=Count("pk")).values_list("status", "n"))
    printed = sum(counts.get(s, 0) for s in RUN_PRINTED)
    failed = counts.get(RunStatus.FAILED, 0)
    cancelled = counts.get(RunStatus.CANCELLED, 0)
    judged = printed + failed
    rate = printed / judged if judged else None
    table = Table("Success rate", ["outcome", "runs"])
    table.rows = [["printed", printed], ["failed", failed], ["cancelled", cancelled]]
    table.note = (
        f"{rate:.1%} of {judged} runs printed (cancelled runs not counted)"
        if rate is not None
        else "no runs ended"
    )
    return table


def failure_reasons(f: StatsFilter, *, top: int = 10) -> Table:
    rows = (
        _runs(f)
        .filter(status=RunStatus.FAILED)
        .values("failure_reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "failure_reason")[:top]
    )
    table = Table("Failure reasons", ["reason", "runs"])
    table.rows = [[r["failure_reason"] or "(no reason given)", r["n"]] for r in rows]
    return table


def sla(f: StatsFilter) -> Table:
    """Of the jobs submitted in the period at least `sla_days` ago, the share finished within
    `sla_days` of submission (younger jobs still have time, so they are left out), and how
    long jobs took, in whole days."""
    within = datetime.timedelta(days=f.sla_days)
    jobs = Job.objects.filter(submitted_at__gte=f.start_at, submitted_at__lt=f.end_at).exclude(
        status__in=(JobStatus.REJECTED, JobStatus.CANCELLED)
    )
    if f.site:
        jobs = jobs.filter(runs__printer__site=f.site).distinct()
    old = jobs.filter(submitted_at__lte=timezone.now() - within)
    totals = old.aggregate(
        n=Count("pk", distinct=True),
        ok=Count("pk", distinct=True, filter=Q(finished_at__lte=F("submitted_at") + within)),
    )
    took = ExpressionWrapper(F("finished_at") - F("submitted_at"), output_field=DurationField())
    table = Table("Completion time", ["days to finish", "jobs"])
    buckets: dict[int, int] = {}
    for value in (
        jobs.filter(finished_at__isnull=False).annotate(took=took).values_list("took", flat=True)
    ):
        day = int(_seconds(value) // 86400)
        buckets[day] = buckets.get(day, 0) + 1
    # A day's count per bucket needs the durations (a histogram): read one column, summed here.
    table.rows = [[f"{d}-{d + 1}", buckets[d]] for d in sorted(buckets)]
    n, ok = totals["n"], totals["ok"]
    table.note = (
        f"{ok / n:.0%} within {f.sla_days:g} days ({ok} of {n} jobs submitted at least "
        f"{f.sla_days:g} days ago)"
        if n
        else f"no job submitted in the period is {f.sla_days:g} days old yet"
    )
    return table


def estimate_accuracy(f: StatsFilter) -> Table:
    """Planned against actual print time of the runs printed in the period, per day (the
    ratio of their sums) and overall (median and 90th percentile of the relative error)."""
    printed = _runs(f).filter(status__in=RUN_PRINTED, started_at__isnull=False)
    planned = ExpressionWrapper(F("planned_end") - F("planned_start"), output_field=DurationField())
    per_day = (
        printed.annotate(day=TruncDate("ended_at", tzinfo=f.tz))
        .values("day")
        .annotate(actual=Sum(_duration()), planned=Sum(planned), runs=Count("pk"))
        .order_by("day")
    )
    table = Table(
        "Estimate accuracy", ["day", "runs", "planned hours", "actual hours", "actual / planned"]
    )
    for r in per_day:
        p, a = _seconds(r["planned"]), _seconds(r["actual"])
        table.rows.append(
            [
                r["day"].isoformat(),
                r["runs"],
                round(p / 3600, 2),
                round(a / 3600, 2),
                round(a / p, 3) if p else None,
            ]
        )
    pairs = [
        (_seconds(p), _seconds(a))
        for p, a in printed.annotate(p=planned, a=_duration()).values_list("p", "a")
        if _seconds(p) > 0
    ]
    e = error_summary(pairs)
    table.note = (
        f"{e.runs} runs: median error {e.median_abs:.0%}, 90 % within {e.p90_abs:.0%}, "
        f"{e.within_10_percent:.0%} within 10 %, bias {e.bias:+.0%}"
        if e.runs
        else "no printed runs in the period"
    )
    return table


def filament_used(f: StatsFilter) -> Table:
    """Grams per day and material: each printed run's grams per copy × copies, a failed run's
    × the share it printed."""
    grams = ExpressionWrapper(
        Coalesce(F("job__grams_per_copy"), 0.0) * F("copies") * F("progress"),
        output_field=FloatField(),
    )
    rows = (
        _runs(f)
        .exclude(status=RunStatus.CANCELLED)
        .annotate(day=TruncDate("ended_at", tzinfo=f.tz))
        .values("day", "job__material__name")
        .annotate(g=Sum(grams))
        .order_by("day", "job__material__name")
    )
    table = Table("Filament used", ["day", "material", "grams"])
    table.rows = [
        [r["day"].isoformat(), r["job__material__name"], round(r["g"] or 0, 1)] for r in rows
    ]
    total = sum(r[2] for r in table.rows)
    table.note = f"{total / 1000:.2f} kg in the period"
    return table


SECTIONS = {
    "throughput": throughput,
    "utilisation": utilisation,
    "outcomes": outcomes,
    "failures": failure_reasons,
    "sla": sla,
    "estimates": estimate_accuracy,
    "filament": filament_used,
}


def stats_tables(f: StatsFilter) -> dict[str, Table]:
    return {name: compute(f) for name, compute in SECTIONS.items()}
