"""Job and run statuses as explicit state machines: an illegal transition raises."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A status enum that is also a Django `choices` source (plain StrEnum, so mypy sees str)."""

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.value.replace("_", " ").capitalize()) for member in cls]

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


class IllegalTransition(Exception):
    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(f"{what} cannot go from {current} to {target}")
        self.current = current
        self.target = target


class JobStatus(Status):
    SUBMITTED = "submitted"  # saved; the file is being checked and sliced
    QUOTED = "quoted"  # prepared; waits for its owner to confirm the quoted completion time
    QUEUED = "queued"  # ready to print, copies waiting for printers
    PRINTING = "printing"  # at least one copy is on a printer
    DONE = "done"  # every copy printed and taken off the bed
    REJECTED = "rejected"  # the file cannot be printed (the reason is on the job)
    CANCELLED = "cancelled"


JOB_TRANSITIONS: dict[str, set[str]] = {
    JobStatus.SUBMITTED: {
        JobStatus.QUOTED,
        JobStatus.QUEUED,
        JobStatus.REJECTED,
        JobStatus.CANCELLED,
    },
    # back to SUBMITTED: its owner's answer to a question (keep the scale) changes the part,
    # which is prepared again (farm.services.questions)
    JobStatus.QUOTED: {JobStatus.SUBMITTED, JobStatus.QUEUED, JobStatus.CANCELLED},
    JobStatus.QUEUED: {JobStatus.PRINTING, JobStatus.CANCELLED},
    JobStatus.PRINTING: {JobStatus.QUEUED, JobStatus.DONE, JobStatus.CANCELLED},
    JobStatus.DONE: set(),
    JobStatus.REJECTED: set(),
    JobStatus.CANCELLED: set(),
}
JOB_OPEN = frozenset({JobStatus.SUBMITTED, JobStatus.QUOTED, JobStatus.QUEUED, JobStatus.PRINTING})


class RunStatus(Status):
    DISPATCHING = "dispatching"  # claimed a printer; G-code on its way
    PRINTING = "printing"
    PAUSED = "paused"
    # The printer stopped answering mid-print: it may still be printing. Its copies are not
    # given to another printer until the printer says what it did, or a person decides.
    IN_DOUBT = "in_doubt"
    # The printer came back without this print (idle, another file): a person decides whether
    # the part is good (done) or lost (reprint).
    INTERRUPTED = "interrupted"
    AWAITING_REMOVAL = "awaiting_removal"  # printed; parts on the bed
    DONE = "done"  # parts taken off; the printer is free
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Its site went down before any dispatch took it: nothing reached the printer, and its
    # copies went back to the queue for other sites (farm.services.sites).
    RELEASED = "released"


RUN_TRANSITIONS: dict[str, set[str]] = {
    RunStatus.DISPATCHING: {
        RunStatus.PRINTING,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.RELEASED,  # its site went down before a dispatch took it
        RunStatus.IN_DOUBT,  # its site went down while a dispatch may have reached the printer
    },
    RunStatus.PRINTING: {
        RunStatus.PAUSED,
        RunStatus.IN_DOUBT,
        RunStatus.INTERRUPTED,
        RunStatus.AWAITING_REMOVAL,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    },
    RunStatus.PAUSED: {
        RunStatus.PRINTING,
        RunStatus.IN_DOUBT,
        RunStatus.INTERRUPTED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    },
    RunStatus.IN_DOUBT: {
        RunStatus.PRINTING,  # the printer answers again, printing this run's file
        RunStatus.PAUSED,
        RunStatus.AWAITING_REMOVAL,  # it answers having finished this run's file
        RunStatus.INTERRUPTED,  # it answers without this print
        RunStatus.FAILED,  # it reports an error, or a person asks for a reprint elsewhere
        RunStatus.CANCELLED,
    },
    RunStatus.INTERRUPTED: {
        RunStatus.AWAITING_REMOVAL,  # a person says the part is good
        RunStatus.FAILED,  # a person says it is lost: its copies are printed again
        RunStatus.CANCELLED,
    },
    RunStatus.AWAITING_REMOVAL: {RunStatus.DONE},
    RunStatus.DONE: set(),
    RunStatus.FAILED: set(),
    RunStatus.CANCELLED: set(),
    RunStatus.RELEASED: set(),
}
RUN_ACTIVE = frozenset(
    {RunStatus.DISPATCHING, RunStatus.PRINTING, RunStatus.PAUSED, RunStatus.IN_DOUBT}
)
# Runs that hold their printer and copies until a person decides what became of the print.
RUN_HELD = frozenset({RunStatus.INTERRUPTED})
# Runs whose copies are on (or may be on) a printer: not waiting, and not to be printed again.
RUN_OPEN = RUN_ACTIVE | RUN_HELD
# Runs whose copies count as printed (or about to be, for the job's progress).
RUN_PRINTED = frozenset({RunStatus.AWAITING_REMOVAL, RunStatus.DONE})


def check_job_transition(current: str, target: str) -> None:
    if target not in JOB_TRANSITIONS[current]:
        raise IllegalTransition("a job", current, target)


def check_run_transition(current: str, target: str) -> None:
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition("a print run", current, target)
