"""Enqueue Celery tasks after the current transaction commits.

A task enqueued inside a transaction could run before the rows it needs are visible, or for
rows a rollback then removes; on_commit closes both races. Tasks are sent by name, so the
services never import `farm.tasks` (which imports them).
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

from farm.celery import app
from farm.task_names import TaskName
from printers.commands import PrinterCommand


def _send_after_commit(name: TaskName, *args: object) -> None:
    transaction.on_commit(lambda: app.send_task(name.value, args=args))


def enqueue_job_prepare(job_id: int) -> None:
    _send_after_commit(TaskName.JOB_PREPARE, job_id)


SCHEDULE_PASS_PENDING = "schedule-pass-pending"


def enqueue_schedule_pass() -> None:
    """Ask for a scheduling pass, unless one is already waiting to start.

    Every finished print asks for a pass; a burst of them needs one pass, not one each. The
    flag is cleared when the pass starts, so a request made during a pass gets a new one.
    It expires, so a lost message cannot block passes for longer than a minute (and the
    periodic pass runs anyway).
    """

    def send() -> None:
        if cache.add(SCHEDULE_PASS_PENDING, 1, timeout=60):
            app.send_task(TaskName.SCHEDULE_PASS.value)

    transaction.on_commit(send)


def enqueue_run_dispatch(run_id: int) -> None:
    _send_after_commit(TaskName.RUN_DISPATCH, run_id)


def enqueue_printer_command(printer_id: int, command: PrinterCommand) -> None:
    _send_after_commit(TaskName.PRINTER_COMMAND, printer_id, command.value)


def enqueue_printer_ready(printer_id: int) -> None:
    """A printer can take work: decide its next run alone (a full pass if that fails)."""
    _send_after_commit(TaskName.PRINTER_READY, printer_id)
