"""Quotas per user and per group: what has been used this month, checked at submission and
again when the estimate is known (farm.services.preparation)."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db.models import F, Q, Sum
from django.utils import timezone

from farm.models import Job, Quota
from farm.quotas import Allowance, overrun, spent
from farm.statuses import JobStatus

# Rejected and cancelled jobs use nothing of a quota; every other job counts at its estimate
# (a job still being sliced has none yet and counts as nothing until it has).
NOT_COUNTED = (JobStatus.REJECTED, JobStatus.CANCELLED)


def month_start(at: datetime.datetime) -> datetime.datetime:
    """The first instant of `at`'s calendar month in the farm's time zone (TIME_ZONE)."""
    local = timezone.localtime(at)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _used(owners: Q, since: datetime.datetime, leave_out: int | None) -> tuple[float, float]:
    jobs = Job.objects.filter(owners, submitted_at__gte=since).exclude(status__in=NOT_COUNTED)
    if leave_out is not None:
        jobs = jobs.exclude(pk=leave_out)
    totals = jobs.aggregate(
        grams=Sum(F("grams_per_copy") * F("quantity")),
        seconds=Sum(F("seconds_per_copy") * F("quantity")),
    )
    return float(totals["grams"] or 0), float(totals["seconds"] or 0) / 3600


def _limits(quota: Quota, whose: str, used: tuple[float, float]) -> list[Allowance]:
    found = []
    if quota.grams_per_month is not None:
        found.append(Allowance(whose, "g", float(quota.grams_per_month), used[0]))
    if quota.hours_per_month is not None:
        found.append(Allowance(whose, "printer hours", quota.hours_per_month, used[1]))
    return found


def quota_allowances(
    user: User, *, at: datetime.datetime | None = None, leave_out: int | None = None
) -> list[Allowance]:
    """Every limit on `user` this month: their own quota's, and each of their groups' (shared
    by the group's members). `leave_out`: a job not to count (the one being checked)."""
    since = month_start(at or timezone.now())
    found: list[Allowance] = []
    own = Quota.objects.filter(user=user).first()
    if own is not None:
        found += _limits(own, "your", _used(Q(owner=user), since, leave_out))
    for quota in Quota.objects.filter(group__user=user).select_related("group"):
        assert quota.group is not None  # a group's quota (the filter above)
        used = _used(Q(owner__groups=quota.group), since, leave_out)
        found += _limits(quota, f"the {quota.group.name} group's", used)
    return found


def quota_check_submission(user: User) -> None:
    """Refuse a new job when a limit is used up already: its own estimate comes only after
    slicing, so that check is `quota_overrun`'s."""
    reason = spent(quota_allowances(user))
    if reason:
        raise ValidationError(reason)


def quota_overrun(job: Job) -> str | None:
    """Why `job`, now estimated, does not fit its owner's quotas (None: it fits).

    Run inside the transaction that accepts the job: the owner's row and their groups' are
    locked first (in that order, groups by id), so two of their jobs prepared at once are
    counted one after the other and cannot both take the last grams.
    """
    list(User.objects.select_for_update().filter(pk=job.owner_id))
    groups = Group.objects.filter(user=job.owner_id, quota__isnull=False).order_by("pk")
    list(groups.select_for_update(of=("self",)))
    allowances = quota_allowances(job.owner, at=job.submitted_at, leave_out=job.pk)
    return overrun(
        allowances,
        grams=(job.grams_per_copy or 0) * job.quantity,
        hours=(job.seconds_per_copy or 0) * job.quantity / 3600,
    )
