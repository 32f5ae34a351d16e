"""The farm at a glance, as plain data: what `farm_status` prints and scripts read."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max

from farm.models import Job, Printer, PrintRun
from farm.statuses import JobStatus


def farm_summary() -> dict[str, Any]:
    jobs = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    runs = dict(PrintRun.objects.values_list("status").annotate(n=Count("id")).order_by())
    printers: dict[str, dict[str, int]] = {}
    for site, state, n in (
        Printer.objects.values_list("site__slug", "state").annotate(n=Count("id")).order_by()
    ):
        printers.setdefault(site, {})[state] = n
    open_jobs = Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.PRINTING))
    latest = open_jobs.aggregate(latest=Max("planned_end"))["latest"]
    beds = Printer.objects.filter(bed_clear=False).count()
    return {
        "jobs_by_status": jobs,
        "runs_by_status": runs,
        "printers_by_site_and_state": printers,
        "queue_length": Job.objects.filter(
            status__in=(JobStatus.SUBMITTED, JobStatus.QUEUED)
        ).count(),
        "beds_to_clear": beds,
        "latest_completion_estimate": latest.isoformat() if latest else None,
    }
