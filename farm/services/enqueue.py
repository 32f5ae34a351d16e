"""Enqueue Celery tasks after the current transaction commits.

A task enqueued inside a transaction could run before the rows it needs are visible, or for
rows a rollback then removes; on_commit closes both races.
"""

from __future__ import annotations

from django.db import transaction


def enqueue_job_prepare(job_id: int) -> None:
    from farm.tasks import job_prepare_task

    transaction.on_commit(lambda: job_prepare_task.delay(job_id))


def enqueue_schedule_pass() -> None:
    from farm.tasks import schedule_pass_task

    transaction.on_commit(lambda: schedule_pass_task.delay())


def enqueue_run_dispatch(run_id: int) -> None:
    from farm.tasks import run_dispatch_task

    transaction.on_commit(lambda: run_dispatch_task.delay(run_id))


def enqueue_printer_command(printer_id: int, command: str) -> None:
    from farm.tasks import printer_command_task

    transaction.on_commit(lambda: printer_command_task.delay(printer_id, command))
