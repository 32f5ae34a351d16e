from __future__ import annotations

import pytest

from farm.statuses import (
    IllegalTransition,
    JobStatus,
    RunStatus,
    check_job_transition,
    check_run_transition,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.SUBMITTED, JobStatus.QUEUED),
        (JobStatus.QUEUED, JobStatus.PRINTING),
        (JobStatus.PRINTING, JobStatus.DONE),
        (JobStatus.PRINTING, JobStatus.QUEUED),
        (JobStatus.QUEUED, JobStatus.CANCELLED),
    ],
)
def test_it_allows_the_job_transitions_of_the_flow(current: str, target: str) -> None:
    check_job_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.DONE, JobStatus.QUEUED),
        (JobStatus.CANCELLED, JobStatus.PRINTING),
        (JobStatus.SUBMITTED, JobStatus.DONE),
        (JobStatus.REJECTED, JobStatus.QUEUED),
    ],
)
def test_it_refuses_illegal_job_transitions(current: str, target: str) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        check_job_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RunStatus.DONE, RunStatus.PRINTING),
        (RunStatus.FAILED, RunStatus.AWAITING_REMOVAL),
        (RunStatus.DISPATCHING, RunStatus.AWAITING_REMOVAL),
        (RunStatus.AWAITING_REMOVAL, RunStatus.FAILED),
    ],
)
def test_it_refuses_illegal_run_transitions(current: str, target: str) -> None:
    with pytest.raises(IllegalTransition):
        check_run_transition(current, target)


def test_every_status_has_a_transition_entry() -> None:
    from farm.statuses import JOB_TRANSITIONS, RUN_TRANSITIONS

    assert set(JOB_TRANSITIONS) == set(JobStatus.values())
    assert set(RUN_TRANSITIONS) == set(RunStatus.values())
