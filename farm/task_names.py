"""The name of every Celery task, and the queue it runs on: the one place both are written.

Services send tasks by name (`farm.services.enqueue`), so they never import `farm.tasks`, which
imports the services: the import graph stays one-way (tasks -> services -> models).
"""

from __future__ import annotations

from enum import StrEnum


class TaskName(StrEnum):
    JOB_PREPARE = "farm.tasks.job_prepare_task"
    SCHEDULE_PASS = "farm.tasks.schedule_pass_task"
    PRINTER_READY = "farm.tasks.printer_ready_task"
    STUCK_WORK_SWEEP = "farm.tasks.stuck_work_sweep_task"
    RUN_DISPATCH = "farm.tasks.run_dispatch_task"
    PRINTER_COMMAND = "farm.tasks.printer_command_task"
    UPLOADS_CLEANUP = "farm.tasks.uploads_cleanup_task"
    SITES_SWEEP = "farm.tasks.sites_sweep_task"
    RECORDS_SWEEP = "farm.tasks.records_sweep_task"
    NOTIFICATIONS_SEND = "farm.tasks.notifications_send_task"
    SPOOLMAN_SYNC = "farm.tasks.spoolman_sync_task"


class Queue(StrEnum):
    SLICING = "slicing"  # CPU: checking and slicing files
    DEFAULT = "default"  # scheduling passes and sweeps


# Tasks not listed run on Queue.DEFAULT; site tasks run on their printer's site queue.
TASK_QUEUES: dict[TaskName, Queue] = {
    TaskName.JOB_PREPARE: Queue.SLICING,
}

# Tasks that talk to a printer run on its site's queue, `site.<slug>`, consumed by that site's
# workers on the site's network (the centre never reaches a printer). They are always sent
# with that queue named (farm.services.enqueue); there is no route that could lose the site.
SITE_TASKS = frozenset({TaskName.RUN_DISPATCH, TaskName.PRINTER_COMMAND})
SITE_QUEUE_PREFIX = "site."


def site_queue(slug: str) -> str:
    """The queue of the site with this slug: its printers' dispatches and commands."""
    return f"{SITE_QUEUE_PREFIX}{slug}"
