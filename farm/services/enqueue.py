"""Enqueue Celery tasks after the current transaction commits.

A task enqueued inside a transaction could run before the rows it needs are visible, or for
rows a rollback then removes; on_commit closes both races.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction


def enqueue_job_prepare(job_id: int) -> None:
    from farm.tasks import job_prepare_task

    transaction.on_commit(lambda: job_prepare_task.delay(job_id))


SCHEDULE_PASS_PENDING = "schedule-pass-pending"


def enqueue_schedule_pass() -> None:
    """Ask for a scheduling pass, unless one is already waiting to start.

    Every finished print asks for a pass; a burst of them needs one pass, not one each. The
    flag is cleared when the pass starts, so a request made during a pass gets a new one.
    It expires, so a lost message cannot block passes for longer than a minute (and the
    periodic pass runs anyway).
    """
    from farm.tasks import schedule_pass_task

    def send() -> None:
        if cache.add(SCHEDULE_PASS_PENDING, 1, timeout=60):
            schedule_pass_task.delay()

    transaction.on_commit(send)


def enqueue_run_dispatch(run_id: int) -> None:
    from farm.tasks import run_dispatch_task

    transaction.on_commit(lambda: run_dispatch_task.delay(run_id))


def enqueue_printer_command(printer_id: int, command: str) -> None:
    from farm.tasks import printer_command_task

    transaction.on_commit(lambda: printer_command_task.delay(printer_id, command))


def enqueue_printer_ready(printer_id: int) -> None:
    """A printer can take work: decide its next run alone (a full pass if that fails)."""
    from farm.tasks import printer_ready_task

    transaction.on_commit(lambda: printer_ready_task.delay(printer_id))
