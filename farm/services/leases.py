"""Leases: a task holds a job's preparation or a run's dispatch until a time it keeps renewing.

A task can arrive twice: the sweep sends again work it finds unheld, and the broker redelivers
a message whose worker died. The lease makes the second arrival a no-op while the first holder
is alive. It is claimed with a conditional UPDATE (only when nobody holds it, the holder's time
ran out, or the claimant is the holder: a retried or redelivered task keeps its id), and a
heartbeat thread renews it while the work goes on. A holder that dies stops renewing; its
lease runs out and the sweep (farm.services.sweeps) sends the work again.

Two fields per kind of work: `<prefix>_holder` (the task's id) and `<prefix>_lease_until`.
"""

from __future__ import annotations

import datetime
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)

# Long enough to ride out a few missed heartbeats (a busy database, a short restart); short
# enough that work whose holder died is sent again within a minute (with the 30 s sweep).
LEASE = datetime.timedelta(seconds=20)
HEARTBEAT_SECONDS = 5.0
# After a failed renewal (the database restarting), try again this soon, so the lease is
# renewed as soon as the database is back and before the sweep can find it lapsed.
RETRY_SECONDS = 1.0


def lease_holder(task_id: str | None = None) -> str:
    """Who holds a lease: the Celery task's id (the same across its retries), else a token."""
    return task_id or f"local-{uuid.uuid4().hex}"


def lease_claim(
    model: type[models.Model],
    pk: int,
    *,
    prefix: str,
    holder: str,
    condition: Q,
    **updates: Any,
) -> bool:
    """Take the lease on one row matching `condition`; False when someone else holds it."""
    now = timezone.now()
    until, holder_field = f"{prefix}_lease_until", f"{prefix}_holder"
    free = (
        Q(**{f"{until}__isnull": True}) | Q(**{f"{until}__lt": now}) | Q(**{holder_field: holder})
    )
    claimed = (
        model._default_manager.filter(condition, free, pk=pk).update(
            **{holder_field: holder, until: now + LEASE}, **updates
        )
        == 1
    )
    return claimed


def lease_extend(
    model: type[models.Model],
    pk: int,
    *,
    prefix: str,
    holder: str,
    by: datetime.timedelta = LEASE,
) -> bool:
    """Renew the lease (from now); False when it is no longer ours."""
    return (
        model._default_manager.filter(pk=pk, **{f"{prefix}_holder": holder}).update(
            **{f"{prefix}_lease_until": timezone.now() + by}
        )
        == 1
    )


def lease_lapse(model: type[models.Model], pk: int, *, prefix: str, holder: str) -> None:
    """Give the lease up unfinished: the next sweep sends the work again at once."""
    model._default_manager.filter(pk=pk, **{f"{prefix}_holder": holder}).update(
        **{f"{prefix}_lease_until": timezone.now()}
    )


def close_own_connection() -> None:
    """Close this thread's database connection, unless it is one shared with the thread that
    started us (Django's tests share an in-memory SQLite connection between threads)."""
    if not connection.allow_thread_sharing:
        connection.close()


@contextmanager
def lease_heartbeat(
    model: type[models.Model], pk: int, *, prefix: str, holder: str
) -> Iterator[None]:
    """Renew the lease every few seconds from a thread while the body runs (a slice is CPU
    work in C as much as in Python, so the renewal cannot live in the work's own loop)."""
    stop = threading.Event()

    def beat() -> None:
        wait = HEARTBEAT_SECONDS
        try:
            while not stop.wait(wait):
                try:
                    if not lease_extend(model, pk, prefix=prefix, holder=holder):
                        log.warning(
                            "%s %s: the %s lease is no longer ours", model.__name__, pk, prefix
                        )
                        return
                    wait = HEARTBEAT_SECONDS
                except Exception as exc:
                    # The database is restarting (or memory is short for a moment): the thread
                    # must not die, or the lease would lapse under a live slice. Drop the
                    # connection and try again soon.
                    log.warning(
                        "%s %s: could not renew the %s lease: %s", model.__name__, pk, prefix, exc
                    )
                    close_own_connection()
                    wait = RETRY_SECONDS
        finally:
            close_own_connection()

    thread = threading.Thread(target=beat, name=f"lease-{prefix}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_SECONDS)
