from __future__ import annotations

import pytest

from farm.scheduling.reports import (
    DAY,
    RunRecord,
    share_finished_within,
    throughput_per_day,
    utilisation,
)

NOW = 100 * DAY


def test_share_within_counts_only_jobs_old_enough_to_judge() -> None:
    jobs = [
        (NOW - 10 * DAY, NOW - 8 * DAY),  # 2 days: in time
        (NOW - 10 * DAY, NOW - 1 * DAY),  # 9 days: late
        (NOW - 9 * DAY, None),  # never finished: late
        (NOW - 1 * DAY, None),  # too young to judge
    ]
    assert share_finished_within(jobs, days=5, now=NOW) == pytest.approx(1 / 3)


def test_share_within_is_unknown_without_old_jobs() -> None:
    assert share_finished_within([(NOW, None)], days=5, now=NOW) is None


def test_utilisation_counts_idle_printers_and_clips_to_the_window() -> None:
    printers = {1: ("A", "MK4"), 2: ("A", "MK4"), 3: ("B", "XL")}
    runs = [RunRecord("A", "MK4", 1, NOW - DAY, NOW + DAY / 2)]
    result = utilisation(runs, printers, start=NOW, end=NOW + DAY)
    assert result["site"] == {"A": pytest.approx(0.25), "B": 0.0}
    assert result["model"]["MK4"] == pytest.approx(0.25)


def test_throughput_is_pieces_per_day_by_end_time() -> None:
    runs = [
        RunRecord("A", "MK4", 1, NOW, NOW + 3600, pieces=4),
        RunRecord("A", "MK4", 1, NOW + DAY, NOW + DAY + 3600, pieces=2),
    ]
    assert throughput_per_day(runs, start=NOW, days=3) == [4, 2, 0]
