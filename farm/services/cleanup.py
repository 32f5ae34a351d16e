"""Deleting the stored files of jobs that will never print: rejected and cancelled ones.

The job rows and their events stay (the history, the reason, who did what); only the upload,
the G-code and the thumbnail go, once the job has been finished for FARM_UPLOAD_RETENTION_DAYS.
A G-code or thumbnail in the slice cache may be shared with another job (the cache key is the
file's content), so it is deleted only when no job that keeps its files refers to it. A job
with a run that is still open (a cancelled print in doubt, say) keeps its files.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import Storage
from django.db.models import Q
from django.utils import timezone

from farm.models import Job
from farm.statuses import RUN_OPEN, JobStatus

log = logging.getLogger(__name__)

CLEANED = (JobStatus.REJECTED, JobStatus.CANCELLED)
FIELDS = ("file", "gcode", "thumbnail")
BATCH = 500


@dataclass(frozen=True)
class CleanupReport:
    jobs: int  # jobs whose files were removed
    files: int  # files deleted from storage
    kept_shared: int  # cached files kept because another job uses them


def uploads_cleanup(
    *, older_than: datetime.timedelta, now: datetime.datetime | None = None
) -> CleanupReport:
    """Delete the files of rejected and cancelled jobs finished more than `older_than` ago.

    Safe to run twice or in two processes at once: a job's fields are cleared with a
    conditional UPDATE before its files are deleted, and deleting a missing file is a no-op.
    """
    cutoff = (now or timezone.now()) - older_than
    due = (
        Job.objects.filter(status__in=CLEANED, finished_at__lt=cutoff)
        .exclude(file="", gcode="", thumbnail="")
        .exclude(runs__status__in=RUN_OPEN)
        .order_by("pk")
    )
    jobs = files = shared = 0
    for job in due.only("pk", *FIELDS)[:BATCH]:
        names = {getattr(job, f).name for f in FIELDS} - {""}
        # Clear the fields first, only if they are as we read them: a second cleaner that got
        # there first updates nothing here and deletes nothing.
        claimed = Job.objects.filter(pk=job.pk, **{f: getattr(job, f).name for f in FIELDS})
        if claimed.update(**dict.fromkeys(FIELDS, "")) != 1:
            continue
        storage = job.file.storage
        for name in sorted(names):
            if _still_used(name):
                shared += 1
                continue
            files += _delete(storage, name)
        jobs += 1
    if jobs:
        log.info("deleted %d file(s) of %d finished job(s); %d kept (shared)", files, jobs, shared)
    return CleanupReport(jobs=jobs, files=files, kept_shared=shared)


def _still_used(name: str) -> bool:
    return Job.objects.filter(Q(file=name) | Q(gcode=name) | Q(thumbnail=name)).exists()


def _delete(storage: Storage, name: str) -> int:
    deleted = 0
    targets = [name]
    if PurePosixPath(name).suffix == ".gcode":
        # the slice cache's record beside it points at the G-code: without it, slice again
        targets.append(str(PurePosixPath(name).with_suffix(".json")))
        targets.append(name + ".layers.npz")  # the layer previews' index (slicing.preview)
    for target in targets:
        try:
            if storage.exists(target):
                storage.delete(target)
                deleted += 1
        except (OSError, SuspiciousOperation) as exc:  # a path outside MEDIA_ROOT
            log.warning("could not delete %s: %s", target, exc)
    return deleted
