"""Job and run statuses as explicit state machines: an illegal transition raises."""

from __future__ import annotations

from django.db import models


class IllegalTransition(Exception):
    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(f"{what} cannot go from {current} to {target}")
        self.current = current
        self.target = target


class JobStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"  # saved; the file is being checked and sliced
    QUEUED = "queued", "Queued"  # ready to print, copies waiting for printers
    PRINTING = "printing", "Printing"  # at least one copy is on a printer
    DONE = "done", "Done"  # every copy printed and taken off the bed
    REJECTED = "rejected", "Rejected"  # the file cannot be printed (the reason is on the job)
    CANCELLED = "cancelled", "Cancelled"


JOB_TRANSITIONS: dict[str, set[str]] = {
    JobStatus.SUBMITTED: {JobStatus.QUEUED, JobStatus.REJECTED, JobStatus.CANCELLED},
    JobStatus.QUEUED: {JobStatus.PRINTING, JobStatus.CANCELLED},
    JobStatus.PRINTING: {JobStatus.QUEUED, JobStatus.DONE, JobStatus.CANCELLED},
    JobStatus.DONE: set(),
    JobStatus.REJECTED: set(),
    JobStatus.CANCELLED: set(),
}
JOB_OPEN = frozenset({JobStatus.SUBMITTED, JobStatus.QUEUED, JobStatus.PRINTING})


class RunStatus(models.TextChoices):
    DISPATCHING = "dispatching", "Dispatching"  # claimed a printer; G-code on its way
    PRINTING = "printing", "Printing"
    PAUSED = "paused", "Paused"
    AWAITING_REMOVAL = "awaiting_removal", "Awaiting removal"  # printed; parts on the bed
    DONE = "done", "Done"  # parts taken off; the printer is free
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


RUN_TRANSITIONS: dict[str, set[str]] = {
    RunStatus.DISPATCHING: {RunStatus.PRINTING, RunStatus.FAILED, RunStatus.CANCELLED},
    RunStatus.PRINTING: {
        RunStatus.PAUSED,
        RunStatus.AWAITING_REMOVAL,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    },
    RunStatus.PAUSED: {RunStatus.PRINTING, RunStatus.FAILED, RunStatus.CANCELLED},
    RunStatus.AWAITING_REMOVAL: {RunStatus.DONE},
    RunStatus.DONE: set(),
    RunStatus.FAILED: set(),
    RunStatus.CANCELLED: set(),
}
RUN_ACTIVE = frozenset({RunStatus.DISPATCHING, RunStatus.PRINTING, RunStatus.PAUSED})
# Runs whose copies count as printed (or about to be, for the job's progress).
RUN_PRINTED = frozenset({RunStatus.AWAITING_REMOVAL, RunStatus.DONE})


def check_job_transition(current: str, target: str) -> None:
    if target not in JOB_TRANSITIONS[current]:
        raise IllegalTransition("a job", current, target)


def check_run_transition(current: str, target: str) -> None:
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition("a print run", current, target)
