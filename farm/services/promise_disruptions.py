"""What the job and run services record about promises: a confirmation (the quote becomes the
promise), and the changes of the farm that may move promises (a run failed, printers left
service or went offline, a site went down), each marking the jobs it touches; the next
scheduling pass applies the hold rule to them (`farm.services.promises.promises_pass`).
Apart from that module because these services are imported by the pass's inputs.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Collection, Mapping

from django.utils import timezone

from farm.models import Job, PrintRun, PromiseChange
from farm.services.plan_store import previous_plan
from farm.statuses import JobStatus, RunStatus

PROMISED = (JobStatus.QUEUED, JobStatus.PRINTING)  # confirmed and not yet done
ON_A_PRINTER = (RunStatus.DISPATCHING, RunStatus.PRINTING, RunStatus.PAUSED, RunStatus.IN_DOUBT)


def promise_confirm(*, job: Job, at: datetime.datetime) -> None:
    """The owner confirmed the quote: what it promised is the promise (inside the
    confirmation's transaction, `job` locked)."""
    if job.promised_end is not None:
        PromiseChange.objects.create(
            job=job, at=at, old=None, new=job.promised_end, reason="confirmed as quoted"
        )


def promises_disrupt(*, job_ids: Collection[int], reason: str) -> int:
    """The farm changed in a way that may make these jobs later: the next pass looks again.
    A reason already waiting is kept (the first change is the one that moved things)."""
    if not job_ids:
        return 0
    return (
        Job.objects.filter(pk__in=list(job_ids), status__in=PROMISED, promise_disruption="")
        .exclude(promised_end=None)
        .update(promise_disruption=reason[:200], promise_disrupted_at=timezone.now())
    )


def promises_disrupt_printers(*, reasons: Mapping[int, str], also: Collection[int] = ()) -> int:
    """The jobs printing on these printers (printer id -> the reason) or planned on them by
    the last pass, and the jobs `also` (for the first printer's reason): one read of the last
    plan and one UPDATE per reason, however many printers changed at once."""
    if not reasons:
        return 0
    jobs: dict[int, str] = dict.fromkeys(also, next(iter(reasons.values())))
    on_printers = PrintRun.objects.filter(printer_id__in=list(reasons), status__in=ON_A_PRINTER)
    for job_id, printer_id in on_printers.values_list("job_id", "printer_id"):
        jobs.setdefault(job_id, reasons[printer_id])
    for a in previous_plan():
        if a.printer_id in reasons:
            jobs.setdefault(a.job_id, reasons[a.printer_id])
    by_reason: dict[str, list[int]] = defaultdict(list)
    for job_id, reason in jobs.items():
        by_reason[reason].append(job_id)
    return sum(promises_disrupt(job_ids=ids, reason=r) for r, ids in by_reason.items())
