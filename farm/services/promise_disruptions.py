"""What the job and run services record about promises: a confirmation (the quote becomes the
promise), and the changes of the farm that may move promises (a run failed, printers left
service or went offline, a site went down), each marking the jobs it touches; the next
scheduling pass applies the hold rule to them (`farm.services.promises.promises_pass`).
Apart from that module because these services are imported by the pass's inputs.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection

from django.utils import timezone

from farm.models import Job, PrintRun, PromiseChange
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


def promises_disrupt_printers(
    *, printer_ids: Collection[int], reason: str, also: Collection[int] = ()
) -> int:
    """The jobs printing on these printers or planned on them by the last pass (and `also`)."""
    ids = set(printer_ids)
    jobs = set(also) | set(
        PrintRun.objects.filter(printer_id__in=ids, status__in=ON_A_PRINTER).values_list(
            "job_id", flat=True
        )
    )
    # Imported here: the plan's inputs import the run services, which import this module.
    from farm.services.plan_inputs import previous_plan

    jobs |= {a.job_id for a in previous_plan() if a.printer_id in ids}
    return promises_disrupt(job_ids=jobs, reason=reason)
