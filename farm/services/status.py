"""The farm at a glance, as plain data: what `farm_status` prints and scripts read."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Count, Max

from farm.models import Job, Printer, PrintRun
from farm.services.sites import UNKNOWN, sites_report
from farm.services.slice_cache import slice_cache_report
from farm.statuses import JobStatus


def farm_summary() -> dict[str, Any]:
    jobs = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    runs = dict(PrintRun.objects.values_list("status").annotate(n=Count("id")).order_by())
    sites = {
        report.site.slug: {
            "condition": report.condition.value,
            "shown_down": report.shown_down,
            "detail": report.describe(),
            "last_heartbeat_at": _iso(report.site.last_heartbeat_at),
            "down_since": _iso(report.site.down_since),
        }
        for report in sites_report()
    }
    # A site shown down is not watched: what its printers do now is unknown, not their last
    # recorded state (they may well be printing on their own).
    down = {slug for slug, site in sites.items() if site["shown_down"]}
    printers: dict[str, dict[str, int]] = {}
    for site, state, n in (
        Printer.objects.values_list("site__slug", "state").annotate(n=Count("id")).order_by()
    ):
        shown = UNKNOWN if site in down else state
        by_state = printers.setdefault(site, {})
        by_state[shown] = by_state.get(shown, 0) + n
    open_jobs = Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.PRINTING))
    latest = open_jobs.aggregate(latest=Max("planned_end"))["latest"]
    beds = Printer.objects.filter(bed_clear=False).count()
    return {
        "sites": sites,
        "jobs_by_status": jobs,
        "runs_by_status": runs,
        "printers_by_site_and_state": printers,
        "queue_length": Job.objects.filter(
            status__in=(JobStatus.SUBMITTED, JobStatus.QUEUED)
        ).count(),
        "beds_to_clear": beds,
        "latest_completion_estimate": latest.isoformat() if latest else None,
        "slice_cache": slice_cache_report(),
    }


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None
