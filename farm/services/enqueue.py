"""Send Celery tasks after the current transaction commits, best-effort.

A task enqueued inside a transaction could run before the rows it needs are visible, or for
rows a rollback then removes; on_commit closes both races. Tasks are sent by name, so the
services never import `farm.tasks` (which imports them).

Sending never fails the caller: the rows are committed by then, and they are what says what
must happen. When the broker is down the failure is logged, and the stuck-work sweep
(farm.services.sweeps) sends the task again from the database once the broker is back. A
submission made during a broker outage is therefore kept and prepared later, not refused.

Many messages at once (a scheduling pass starts thousands of runs on a cold farm) go over one
producer and connection, pipelined where the broker allows it (Redis: one round trip per
SEND_BATCH messages instead of one per message), still after commit and still best-effort: the
first failure stops the batch, and the sweep sends the rest again from the database.

Tasks that talk to a printer go to its site's queue (`farm.task_names.site_queue`), looked up
from the database when they are sent: a site's workers are the only ones that reach it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from farm.celery import app
from farm.models import Printer, PrintRun
from farm.task_names import SITE_TASKS, TaskName, site_queue
from printers.commands import PrinterCommand

log = logging.getLogger(__name__)

SEND_BATCH = 500  # messages per pipelined round trip to the broker


@dataclass(frozen=True)
class TaskMessage:
    """One task to send: its name, its arguments (ids), and its queue (None: its route)."""

    name: TaskName
    args: tuple[object, ...]
    queue: str | None = None
    countdown: float = 0.0  # held this many seconds before a worker runs it


def send_tasks(messages: Sequence[TaskMessage]) -> bool:
    """Send many tasks now over one producer; False (logged) when the broker failed.

    A failure stops the batch: the broker is unreachable, and every later message would wait
    out the publish retries in turn. What was not sent is sent again by the sweep.
    """
    if not messages:
        return True
    for m in messages:
        if m.name in SITE_TASKS and not m.queue:
            raise ValueError(f"{m.name.value} runs on a site queue: name it")
    try:
        with app.producer_or_acquire() as producer, producer.batch(max_size=SEND_BATCH):
            for m in messages:
                held = {"countdown": m.countdown} if m.countdown > 0 else {}
                app.send_task(m.name.value, args=m.args, queue=m.queue, producer=producer, **held)
    except Exception as exc:  # kombu, redis and socket errors alike: the broker is unreachable
        first = messages[0]
        log.warning(
            "could not send %s%r (%d messages in this batch), the sweep will send them again: %s",
            first.name.value,
            first.args,
            len(messages),
            exc,
        )
        return False
    return True


def send_task(name: TaskName, *args: object, queue: str | None = None) -> bool:
    """Send one task now; False (logged) when the broker cannot be reached."""
    return send_tasks([TaskMessage(name, args, queue)])


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


def send_run_dispatches(run_ids: Iterable[int]) -> bool:
    """Send the dispatch of each run to its printer's site queue (one query for the sites,
    one producer for the messages), held until the run's planned start: a pass claims the
    printers of every run due before the next pass (`scheduling.is_due_now`), and a site's
    planned starts are spaced by its heat-up limit, so the G-code goes out at that pace."""
    ids = list(run_ids)
    rows = PrintRun.objects.filter(pk__in=ids).values_list(
        "pk", "printer__site__slug", "planned_start"
    )
    found = {pk: (slug, start) for pk, slug, start in rows}
    now = timezone.now()
    return send_tasks(
        [
            TaskMessage(
                TaskName.RUN_DISPATCH,
                (pk,),
                site_queue(found[pk][0]),
                countdown=_seconds_until(found[pk][1], now),
            )
            for pk in ids
            if pk in found
        ]
    )


def _seconds_until(at: datetime.datetime, now: datetime.datetime) -> float:
    return max(0.0, (at - now).total_seconds())


def enqueue_run_dispatches(run_ids: Iterable[int]) -> None:
    """After commit, send the dispatches of many runs at once (a batch of started runs)."""
    ids = list(run_ids)
    if ids:
        transaction.on_commit(lambda: send_run_dispatches(ids))


def enqueue_printer_command(printer_id: int, command: PrinterCommand) -> None:
    def send() -> None:
        slug = Printer.objects.filter(pk=printer_id).values_list("site__slug", flat=True).first()
        if slug is not None:
            send_task(TaskName.PRINTER_COMMAND, printer_id, command.value, queue=site_queue(slug))

    transaction.on_commit(send)


def enqueue_printer_ready(printer_id: int) -> None:
    """A printer can take work: decide its next run alone (a full pass if that fails)."""
    _send_after_commit(TaskName.PRINTER_READY, printer_id)
