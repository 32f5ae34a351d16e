"""Send Celery tasks after the current transaction commits, best-effort.

A task enqueued inside a transaction could run before the rows it needs are visible, or for
rows a rollback then removes; on_commit closes both races. Tasks are sent by name, so the
services never import `farm.tasks` (which imports them).

Sending never fails the caller: the rows are committed by then, and they are what says what
must happen. When the broker is down the failure is logged, and the stuck-work sweep
(farm.services.sweeps) sends the task again from the database once the broker is back. A
submission made during a broker outage is therefore kept and prepared later, not refused.
"""

from __future__ import annotations

import contextlib
import logging

from django.core.cache import cache
from django.db import transaction

from farm.celery import app
from farm.task_names import TaskName
from printers.commands import PrinterCommand

log = logging.getLogger(__name__)


def send_task(name: TaskName, *args: object) -> bool:
    """Send one task now; False (logged) when the broker cannot be reached."""
    try:
        app.send_task(name.value, args=args)
    except Exception as exc:  # kombu, redis and socket errors alike: the broker is unreachable
        log.warning("could not send %s%r, the sweep will send it again: %s", name.value, args, exc)
        return False
    return True


def _send_after_commit(name: TaskName, *args: object) -> None:
    transaction.on_commit(lambda: send_task(name, *args))


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
        try:
            pending = not cache.add(SCHEDULE_PASS_PENDING, 1, timeout=60)
        except Exception as exc:  # the cache (Redis) is down: the periodic pass covers it
            log.warning("could not ask for a scheduling pass: %s", exc)
            return
        if not pending and not send_task(TaskName.SCHEDULE_PASS):
            with contextlib.suppress(Exception):  # nothing is waiting after all
                cache.delete(SCHEDULE_PASS_PENDING)

    transaction.on_commit(send)


def enqueue_run_dispatch(run_id: int) -> None:
    _send_after_commit(TaskName.RUN_DISPATCH, run_id)


def enqueue_printer_command(printer_id: int, command: PrinterCommand) -> None:
    _send_after_commit(TaskName.PRINTER_COMMAND, printer_id, command.value)


def enqueue_printer_ready(printer_id: int) -> None:
    """A printer can take work: decide its next run alone (a full pass if that fails)."""
    _send_after_commit(TaskName.PRINTER_READY, printer_id)
