"""Celery tasks: thin shells that take ids, call one service, and decide about retries.

Every task is safe to run twice (acks are late, so a worker killed mid-task means the task runs
again): the services check the current status before they change anything. Names and queues
are in `farm.task_names` (routes in settings), so the services can send tasks by name.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache

from farm.models import PrintRun
from farm.services.cleanup import uploads_cleanup
from farm.services.dispatch import run_dispatch, run_dispatch_hold
from farm.services.enqueue import SCHEDULE_PASS_PENDING, enqueue_schedule_pass
from farm.services.incremental import printer_next_run
from farm.services.maintenance import maintenance_sweep
from farm.services.notifications import (
    notifications_from_events,
    notifications_prune,
    notifications_send,
)
from farm.services.preparation import job_prepare, job_reject
from farm.services.printer_control import printer_command
from farm.services.runs import run_dispatch_failed
from farm.services.scheduling import StartOutcome, schedule_pass
from farm.services.sites import sites_sweep
from farm.services.slice_cache import slice_cache_trim
from farm.services.spoolman import spoolman_sync
from farm.services.spools import low_stock_notify, out_of_stock_declines
from farm.services.sweeps import stuck_work_sweep
from farm.services.webhooks import webhooks_from_events, webhooks_prune, webhooks_send
from farm.task_names import TaskName
from printers.commands import PrinterCommand
from printers.drivers import DriverError

log = logging.getLogger(__name__)

DISPATCH_RETRIES = 5


@shared_task(
    bind=True,
    name=TaskName.JOB_PREPARE.value,
    soft_time_limit=settings.FARM_SLICE_TIME_LIMIT,
    time_limit=settings.FARM_SLICE_TIME_LIMIT + 30,
)
def job_prepare_task(self: Task, job_id: int) -> None:
    try:
        job_prepare(job_id=job_id, holder=self.request.id, memory_mb=settings.FARM_SLICE_MEMORY_MB)
    except SoftTimeLimitExceeded:
        # A mesh that takes this long is not one to retry: say so on the job.
        job_reject(
            job_id=job_id,
            reason=f"checking and slicing the file took more than "
            f"{settings.FARM_SLICE_TIME_LIMIT:.0f} s; simplify the mesh or ask an operator",
        )


@shared_task(name=TaskName.SCHEDULE_PASS.value)
def schedule_pass_task() -> None:
    cache.delete(SCHEDULE_PASS_PENDING)
    result = schedule_pass()
    if result.runs_started:
        log.info("scheduling pass started %d runs", result.runs_started)


@shared_task(name=TaskName.PRINTER_READY.value)
def printer_ready_task(printer_id: int) -> None:
    if printer_next_run(printer_id=printer_id) == StartOutcome.NOT_STARTED:
        enqueue_schedule_pass()


@shared_task(name=TaskName.STUCK_WORK_SWEEP.value)
def stuck_work_sweep_task() -> None:
    result = stuck_work_sweep()
    if result.prepares or result.dispatches:
        log.warning(
            "sent again work whose task was lost: %d preparations, %d dispatches",
            result.prepares,
            result.dispatches,
        )


@shared_task(name=TaskName.SITES_SWEEP.value)
def sites_sweep_task() -> None:
    sites_sweep()


@shared_task(bind=True, name=TaskName.RUN_DISPATCH.value, max_retries=DISPATCH_RETRIES)
def run_dispatch_task(self: Task, run_id: int) -> None:
    holder = self.request.id  # the same across retries: the lease stays ours between them
    try:
        run_dispatch(run_id=run_id, holder=holder)
    except DriverError as exc:  # transient: permanent ones were handled by the service
        PrintRun.objects.filter(pk=run_id).update(dispatch_attempts=self.request.retries + 1)
        if self.request.retries >= DISPATCH_RETRIES:
            run_dispatch_failed(run_id=run_id, reason=f"gave up after retries: {exc.message}")
            return
        countdown = 2**self.request.retries
        run_dispatch_hold(run_id=run_id, holder=holder, seconds=countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name=TaskName.PRINTER_COMMAND.value)
def printer_command_task(printer_id: int, command: str) -> None:
    try:
        printer_command(printer_id=printer_id, command=PrinterCommand(command))
    except DriverError as exc:
        log.warning("printer %s: %s failed: %s", printer_id, command, exc.message)


@shared_task(name=TaskName.UPLOADS_CLEANUP.value)
def uploads_cleanup_task() -> None:
    uploads_cleanup(older_than=timedelta(days=settings.FARM_UPLOAD_RETENTION_DAYS))
    trimmed = slice_cache_trim()  # then the slice cache to its bound
    if trimmed.evicted:
        log.info(
            "slice cache: evicted %d entries (%.0f MB), %.0f MB left",
            trimmed.evicted,
            trimmed.freed_bytes / 2**20,
            trimmed.size_bytes / 2**20,
        )


@shared_task(name=TaskName.RECORDS_SWEEP.value)
def records_sweep_task() -> None:
    """Maintenance due (overdue printers out of service), failing printers, low stock."""
    result = maintenance_sweep()
    low_stock_notify()
    out_of_stock_declines()  # requests nobody can meet go to printers that hold the filament
    if result.held:
        log.warning("maintenance: %d printers taken out of service", result.held)


@shared_task(name=TaskName.NOTIFICATIONS_SEND.value)
def notifications_send_task() -> None:
    # Safe to run twice at once: each message's attempt is claimed by a conditional UPDATE.
    notifications_from_events()
    notifications_send()
    notifications_prune()
    # Signed webhooks ride on the same minute: each delivery is claimed the same way.
    webhooks_from_events()
    webhooks_send()
    webhooks_prune()


@shared_task(name=TaskName.SPOOLMAN_SYNC.value)
def spoolman_sync_task() -> None:
    if settings.FARM_SPOOLMAN_URL:
        spoolman_sync(base_url=settings.FARM_SPOOLMAN_URL)
