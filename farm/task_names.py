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


class Queue(StrEnum):
    SLICING = "slicing"  # CPU: checking and slicing files
    DISPATCH = "dispatch"  # I/O: talking to printers
    DEFAULT = "default"  # scheduling passes and sweeps


# Tasks not listed run on Queue.DEFAULT.
TASK_QUEUES: dict[TaskName, Queue] = {
    TaskName.JOB_PREPARE: Queue.SLICING,
    TaskName.RUN_DISPATCH: Queue.DISPATCH,
    TaskName.PRINTER_COMMAND: Queue.DISPATCH,
}
