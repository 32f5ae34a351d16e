"""Sweeps: send again work whose task was lost (a worker killed mid-task, a broker restart, a
submission made while the broker was down). What the database says must happen gets done.

A job waiting to be prepared and a run waiting to be dispatched are each in one of two cases:

- Its lease lapsed: a task started it, then stopped renewing (its worker died) or gave up.
  That task's message is spent, so a new one is sent at once.
- Nobody ever held it: its message may still be waiting in the queue behind other work, or it
  may be lost (never sent, or dropped with a broker that restarted empty). The sweep counts the
  messages in the work's queue: when there are fewer than such rows, some were lost and every
  one of them is sent again. (A queue with enough messages is only busy; sending more would
  pile up duplicates behind a long slicing backlog.)

A live lease is never touched, so a slice that is still running is never started twice, and a
repeated message finds the lease held and does nothing (farm.services.leases).
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Model, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import ChannelError

from farm.celery import app
from farm.models import Job, PrintRun
from farm.services.dispatch import DISPATCH
from farm.services.enqueue import send_task
from farm.services.preparation import PREPARE
from farm.statuses import JobStatus, RunStatus
from farm.task_names import TASK_QUEUES, TaskName, site_queue

log = logging.getLogger(__name__)

JOB_PREPARE, DISPATCH_TASK = TaskName.JOB_PREPARE, TaskName.RUN_DISPATCH

# A row younger than this may have its message in flight (sent after commit, not yet counted).
FRESH = datetime.timedelta(seconds=10)
BATCH = 500


@dataclass(frozen=True)
class SweepResult:
    prepares: int
    dispatches: int


def queue_depth(queue: str) -> int | None:
    """Messages waiting in a broker queue, or None when the broker cannot say."""
    try:
        with app.connection_for_read() as conn:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
    except ChannelError:  # no such queue yet: nothing was ever left in it
        return 0
    except Exception as exc:  # the broker is unreachable: assume the worst, send again
        log.warning("could not count the messages in queue %s: %s", queue, exc)
        return None


Rows = QuerySet[Any]
QueueOf = Callable[[Rows], list[tuple[int, str]]]


def _lost(
    model: type[Model], waiting: Q, *, prefix: str, now: datetime.datetime, queue_of: QueueOf
) -> list[tuple[int, str]]:
    """The (id, queue) of rows in `waiting` whose task must be sent again."""
    rows = model._default_manager.filter(waiting)
    lapsed = queue_of(rows.filter(**{f"{prefix}_lease_until__lt": now})[:BATCH])
    unheld: dict[str, list[int]] = defaultdict(list)
    for pk, queue in queue_of(rows.filter(**{f"{prefix}_lease_until__isnull": True})[:BATCH]):
        unheld[queue].append(pk)
    for queue, ids in unheld.items():
        depth = queue_depth(queue)
        if depth is None or depth < len(ids):  # some were lost: send them all again
            lapsed += [(pk, queue) for pk in ids]
        # else their messages are in the queue, behind other work
    return lapsed


def _slicing_queue(rows: Rows) -> list[tuple[int, str]]:
    return [(pk, TASK_QUEUES[JOB_PREPARE].value) for pk in rows.values_list("pk", flat=True)]


def _site_queue(rows: Rows) -> list[tuple[int, str]]:
    """A run's dispatch goes to its printer's site queue."""
    return [(pk, site_queue(slug)) for pk, slug in rows.values_list("pk", "printer__site__slug")]


# A dispatch nobody took for this long has no worker on its site's queue (a new site whose
# `site_worker` was never started, or one that stopped): said in the log every sweep.
UNCONSUMED = datetime.timedelta(minutes=5)


def _warn_of_unconsumed_site_queues(now: datetime.datetime) -> dict[str, int]:
    """Dispatches waiting since UNCONSUMED ago that no worker ever took, by site slug."""
    waiting = (
        PrintRun.objects.filter(
            status=RunStatus.DISPATCHING,
            created_at__lt=now - UNCONSUMED,
            dispatch_lease_until__isnull=True,
        )
        .values_list("printer__site__slug")
        .annotate(n=Count("pk"))
    )
    stuck = dict(waiting.values_list("printer__site__slug", "n"))
    for slug, n in sorted(stuck.items()):
        log.warning(
            "%d dispatches of site %s have waited over %d minutes with no worker taking them: "
            "is a worker consuming queue %s? (python manage.py site_worker --site %s)",
            n,
            slug,
            UNCONSUMED.total_seconds() // 60,
            site_queue(slug),
            slug,
        )
    return stuck


def stuck_work_sweep(*, now: datetime.datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    work: list[tuple[type[Model], Q, str, TaskName, QueueOf]] = [
        (
            Job,
            Q(status=JobStatus.SUBMITTED, submitted_at__lt=now - FRESH),
            PREPARE,
            JOB_PREPARE,
            _slicing_queue,
        ),
        (
            PrintRun,
            # A dispatch held until its planned start (`send_run_dispatches`) is not lost
            # before then: sent again early, it would heat a printer ahead of the site's turn.
            Q(
                status=RunStatus.DISPATCHING,
                created_at__lt=now - FRESH,
                planned_start__lt=now - FRESH,
            ),
            DISPATCH,
            DISPATCH_TASK,
            _site_queue,
        ),
    ]
    _warn_of_unconsumed_site_queues(now)
    counts = []
    for model, waiting, prefix, task, queue_of in work:
        lost = _lost(model, waiting, prefix=prefix, now=now, queue_of=queue_of)
        for pk, queue in lost:
            send_task(task, pk, queue=queue)
        counts.append(len(lost))
    return SweepResult(prepares=counts[0], dispatches=counts[1])
