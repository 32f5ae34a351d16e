"""Reuse a job: print a past one again in one click."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.utils import timezone

from farm.models import Job
from farm.services.submission import job_submit


def job_print_again(*, job: Job, actor: User) -> Job:
    """A new job of the same file and settings, owned by `actor`, who must own `job`. It goes
    through preparation and waits, quoted, for its owner to confirm it, as any submission
    from the form: the quote (time, cost, approval, quota) is today's, not the old one's.

    A due date already past is left out (the form would refuse it); one still ahead is kept.
    """
    if job.owner_id != actor.pk:
        raise PermissionDenied("Only its owner can print a job again.")
    if not job.file or not job.file.storage.exists(job.file.name):
        raise ValidationError(
            "This job's file is no longer kept (files of closed jobs are removed after a "
            "while): submit it again from your computer."
        )
    due = job.due if job.due and job.due > timezone.now() else None
    # The stored name is the farm's (uploads/<uid>.stl); the part's own name goes on, with
    # the stored file's suffix if a name cut at 200 characters lost it (the checks read it).
    suffix = "." + job.file.name.rsplit(".", 1)[-1]
    name = job.name if job.name.lower().endswith(suffix) else job.name[: 200 - len(suffix)] + suffix
    with job.file.open("rb") as stored:
        upload = File(stored, name=name)
        return job_submit(
            owner=actor,
            upload=upload,
            material=job.material,
            quantity=job.quantity,
            colour=job.colour,
            priority=job.priority,
            due=due,
            notes=job.notes,
            site=job.site,
            needed_at=job.needed_at,
            confirm_required=True,
            supports=job.supports,
            again_from=job,
        )
