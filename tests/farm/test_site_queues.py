"""A run's dispatch and its printer's commands go to the queue of the printer's site,
`site.<slug>`; the dispatches of a batch of runs are sent together after the commit, over one
producer, and a broker that fails stops the batch without touching what was committed.

The message tests go through the broker the settings configure (the embedded filesystem
broker, or Redis when FARM_REDIS_URL is set, as in CI's second run) and read the messages back
from the queue the way a site's worker would."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from farm.celery import app
from farm.models import Job, Printer, PrintRun, Site
from farm.services import enqueue
from farm.services.preparation import job_prepare
from farm.services.printer_control import printer_command_request
from farm.services.runs import RunRequest, runs_create
from farm.services.submission import job_submit
from farm.task_names import TaskName, site_queue
from printers.commands import PrinterCommand

pytestmark = pytest.mark.django_db(transaction=True)


def queued(alice: Any, pla: Any, cube_upload: Any, quantity: int) -> Job:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=quantity)
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def start(job: Job, printers: list[Printer]) -> list[PrintRun]:
    now = job.submitted_at
    outcome = runs_create([RunRequest(job.pk, p, 1, now, now) for p in printers])
    return outcome.runs


def drain(queue: str) -> list[tuple[str, list[Any]]]:
    """(task name, args) of every message waiting in `queue`, taken off it."""
    found: list[tuple[str, list[Any]]] = []
    with app.connection_for_read() as conn:
        simple = conn.SimpleQueue(queue)
        try:
            while True:
                try:
                    message = simple.get(timeout=2)
                except simple.Empty:
                    return found
                args = message.payload[0]
                found.append((message.headers["task"], list(args)))
                message.ack()
        finally:
            simple.close()


@pytest.fixture
def sites(db: Any) -> Iterator[tuple[Site, Site]]:
    """Two sites with slugs of their own, so no other test's messages are in their queues."""
    tag = uuid.uuid4().hex[:8]
    a = Site.objects.create(name=f"A {tag}", slug=f"a-{tag}")
    b = Site.objects.create(name=f"B {tag}", slug=f"b-{tag}")
    yield a, b
    for s in (a, b):
        drain(site_queue(s.slug))


def test_each_run_is_dispatched_on_its_printers_site_queue(
    alice: Any,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
    sites: tuple[Site, Site],
    settings: Any,
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 1
    a, b = sites
    printers = [make_printer("a1", site=a), make_printer("a2", site=a), make_printer("b1", site=b)]
    runs = start(queued(alice, pla, cube_upload, 3), printers)
    on = {run.printer.name: run.pk for run in runs}
    dispatch = TaskName.RUN_DISPATCH.value
    assert sorted(drain(site_queue(a.slug))) == sorted(
        [(dispatch, [on["a1"]]), (dispatch, [on["a2"]])]
    )
    assert drain(site_queue(b.slug)) == [(dispatch, [on["b1"]])]


def test_an_operators_command_goes_to_its_printers_site_queue(
    make_printer: Any, operator: Any, sites: tuple[Site, Site]
) -> None:
    a, _ = sites
    printer = make_printer("a1", site=a, state="printing")
    printer_command_request(printer=printer, command=PrinterCommand.PAUSE, actor=operator)
    assert drain(site_queue(a.slug)) == [
        (TaskName.PRINTER_COMMAND.value, [printer.pk, PrinterCommand.PAUSE.value])
    ]


def test_a_run_planned_later_is_dispatched_at_its_planned_start(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, sites: tuple[Site, Site]
) -> None:
    # A pass starts the runs due before the next pass (`scheduling.is_due_now`); each one's
    # G-code goes out at its planned start, the pace of its site's heat-up limit.
    a, _ = sites
    printer = make_printer("a1", site=a)
    job = queued(alice, pla, cube_upload, 1)
    at = timezone.now() + datetime.timedelta(seconds=120)
    (run,) = runs_create([RunRequest(job.pk, printer, 1, at, at)]).runs
    with app.connection_for_read() as conn:
        simple = conn.SimpleQueue(site_queue(a.slug))
        try:
            message = simple.get(timeout=2)
            message.ack()
        finally:
            simple.close()
    assert message.payload[0] == [run.pk]
    assert message.headers["eta"] is not None, "sent to start at once"
    eta = datetime.datetime.fromisoformat(message.headers["eta"])
    assert abs((eta - at).total_seconds()) < 5


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], str | None]]:
    """The dispatches handed to Celery (name, args, queue), none sent to a broker."""
    messages: list[tuple[str, tuple[Any, ...], str | None]] = []

    def record(name: str, args: tuple[Any, ...] = (), queue: str | None = None, **_: Any) -> None:
        if name == TaskName.RUN_DISPATCH.value:
            messages.append((name, tuple(args), queue))

    monkeypatch.setattr(app, "send_task", record)
    return messages


def test_a_batch_of_runs_is_sent_in_one_go_after_its_commit_and_not_at_all_after_a_rollback(
    alice: Any, pla: Any, cube_upload: Any, make_printer: Any, settings: Any, sent: Any
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 1
    printers = [make_printer(f"p{i}") for i in range(4)]
    job = queued(alice, pla, cube_upload, 4)
    with pytest.raises(RuntimeError), transaction.atomic():
        start(job, printers[:2])
        assert sent == []  # nothing before the commit
        raise RuntimeError("rolled back")
    assert sent == [] and PrintRun.objects.count() == 0
    sends: list[int] = []
    real = enqueue.send_tasks

    def counted(messages: Any) -> bool:
        sends.append(len(messages))
        return real(messages)

    enqueue.send_tasks = counted
    try:
        runs = start(job, printers)
    finally:
        enqueue.send_tasks = real
    assert sends == [4]  # one batch, one producer
    assert sorted(args for _, args, _ in sent) == sorted((run.pk,) for run in runs)
    assert {queue for _, _, queue in sent} == {"site.berlin"}


def test_a_broker_that_fails_stops_the_batch_and_keeps_the_runs_for_the_sweep(
    alice: Any,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 1
    printers = [make_printer(f"p{i}") for i in range(5)]
    attempts: list[int] = []

    def refuse(name: str, *args: Any, **kwargs: Any) -> None:
        if name == TaskName.RUN_DISPATCH.value:
            attempts.append(1)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", refuse)
    runs = start(queued(alice, pla, cube_upload, 5), printers)
    assert len(runs) == 5  # committed: the sweep sends their dispatches once the broker is back
    assert PrintRun.objects.filter(status="dispatching").count() == 5
    assert attempts == [1]  # not five waits for a broker that is down
    assert "could not send farm.tasks.run_dispatch_task" in caplog.text


def test_a_site_task_sent_without_its_site_queue_is_refused() -> None:
    with pytest.raises(ValueError, match="site queue"):
        enqueue.send_task(TaskName.RUN_DISPATCH, 1)
