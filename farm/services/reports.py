"""Farm reports from the database, computed by the pure functions in farm.scheduling."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from farm.models import Job, Printer, PrintRun
from farm.scheduling.estimates import error_summary
from farm.scheduling.reports import (
    RunRecord,
    share_finished_within,
    throughput_per_day,
    utilisation,
)
from farm.services.learning import corrections_report, time_scale
from farm.statuses import RUN_PRINTED, JobStatus


def farm_report(*, days: int = 7, within_days: float = 5.0) -> dict[str, Any]:
    """The last `days` days: on-time share, estimate errors, utilisation, throughput."""
    now = timezone.now()
    start = now - datetime.timedelta(days=days)
    jobs = Job.objects.filter(submitted_at__gte=start - datetime.timedelta(days=within_days))
    jobs = jobs.exclude(status__in=(JobStatus.REJECTED, JobStatus.CANCELLED))
    submitted_finished = [
        (j.submitted_at.timestamp(), j.finished_at.timestamp() if j.finished_at else None)
        for j in jobs.only("submitted_at", "finished_at")
    ]
    runs = list(
        PrintRun.objects.filter(status__in=RUN_PRINTED, ended_at__gte=start)
        .exclude(started_at=None)
        .select_related("printer__site", "job")
    )
    records = [
        RunRecord(
            site=r.printer.site.slug,
            model=r.printer.model,
            printer_id=r.printer_id,
            start=r.started_at.timestamp(),
            end=r.ended_at.timestamp(),
            pieces=r.copies,
        )
        for r in runs
        if r.started_at and r.ended_at
    ]
    pairs = [
        (
            float(r.job.seconds_per_copy or 0) * r.copies / time_scale(r.printer),
            (r.ended_at - r.started_at).total_seconds(),
        )
        for r in runs
        if r.started_at and r.ended_at
    ]
    printers = {p.pk: (p.site.slug, p.model) for p in Printer.objects.select_related("site")}
    errors = error_summary(pairs)
    return {
        "days": days,
        "share_finished_within_days": {
            "days": within_days,
            "share": share_finished_within(
                submitted_finished, days=within_days, now=now.timestamp()
            ),
        },
        "estimate_error": {
            "runs": errors.runs,
            "bias": round(errors.bias, 4),
            "median_abs": round(errors.median_abs, 4),
            "p90_abs": round(errors.p90_abs, 4),
            "within_10_percent": round(errors.within_10_percent, 4),
        },
        "learned_factors": corrections_report(),
        "utilisation": utilisation(records, printers, start=start.timestamp(), end=now.timestamp()),
        "pieces_per_day": throughput_per_day(records, start=start.timestamp(), days=days),
    }
