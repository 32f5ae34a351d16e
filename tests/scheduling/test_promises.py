"""The promise rules (farm.scheduling.promises): margins from the farm's history, the
confidence they carry, and the hold rule."""

from __future__ import annotations

import numpy as np
import pytest

from farm.scheduling.promises import (
    MIN_RUNS,
    Chain,
    ClearingRules,
    Leg,
    RunRecord,
    chains_for,
    confidence_sentence,
    due_with,
    error_p90,
    history_from,
    hold,
    kept_share,
    promise_for,
)
from farm.scheduling.types import Assignment, PrinterSlot, SiteRules

H = 3600.0


def slot(
    pid: int, *, free_at: float = 0.0, site: str = "A", auto_eject: bool = False
) -> PrinterSlot:
    return PrinterSlot(
        id=pid,
        site=site,
        model="MK4",
        free_at=free_at,
        material="PLA",
        colour="",
        nozzle_mm=0.4,
        build_mm=(250, 210, 220),
        auto_eject=auto_eject,
    )


def noisy_history(n: int, spread: float, failure_rate: float, seed: int = 1) -> list[RunRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        if rng.random() < failure_rate:
            records.append(RunRecord("MK4", H, None, failed=True))
        else:
            records.append(RunRecord("MK4", H, H * float(rng.lognormal(0, spread))))
    return records


def one_run(seconds: float = H) -> list[Chain]:
    return [Chain(seconds, (Leg("MK4", seconds, True, 0.0, seconds),))]


def test_a_single_run_is_promised_at_the_quantile_of_its_models_history() -> None:
    history = history_from(noisy_history(2000, 0.1, 0.0))
    p = promise_for(H, one_run(), history, share=0.9)
    # No failures: the whole budget goes to print time; 90 % of the runs took less.
    ratios = sorted(r.actual_seconds / r.planned_seconds for r in noisy_history(2000, 0.1, 0.0))  # type: ignore[operator]
    assert p.end == pytest.approx(H * ratios[int(0.9 * len(ratios)) - 1], rel=0.01)
    assert p.confidence == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize(("failure_rate", "kept_at_most"), [(0.0, 0.93), (0.01, 0.95)])
def test_promises_sized_from_history_are_kept_as_often_as_stated(
    failure_rate: float, kept_at_most: float
) -> None:
    past = history_from(noisy_history(3000, 0.12, failure_rate, seed=2))
    p = promise_for(H, one_run(), past, share=0.9)
    future = noisy_history(5000, 0.12, failure_rate, seed=3)
    # A failed run is printed again: it takes its time twice.
    taken = [(r.actual_seconds or 0.0) if not r.failed else 2 * H for r in future]
    kept = kept_share((p.end, t) for t in taken)
    assert kept is not None and 0.9 <= kept <= kept_at_most  # kept, and not by a mile


def test_a_run_that_fails_rarely_enough_is_promised_without_a_whole_reprint() -> None:
    # 5 % of runs fail: 95 % print well, so the promise can keep 9 in 10 by print time alone
    # (a whole reprint, a night's wait with it on a staffed farm, would pad every promise).
    past = history_from(noisy_history(3000, 0.05, 0.05, seed=4))
    p = promise_for(H, one_run(), past, share=0.9)
    assert p.end < 1.5 * H
    future = noisy_history(5000, 0.05, 0.05, seed=5)
    taken = [(r.actual_seconds or 0.0) if not r.failed else 2 * H for r in future]
    kept = kept_share((p.end, t) for t in taken)
    assert kept is not None and kept >= 0.89  # 0.9 within the draw's error (0.004)


def test_a_run_that_fails_too_often_is_promised_with_its_reprint() -> None:
    # 15 % fail: print time alone cannot keep 9 in 10.
    past = history_from(noisy_history(3000, 0.05, 0.15, seed=4))
    assert promise_for(H, one_run(), past, share=0.9).end >= 2 * H


def test_a_job_on_many_printers_allows_a_whole_reprint_after_its_failed_bed_is_cleared() -> None:
    # Four copies side by side, 4 % of runs fail: one job in seven has a failed copy, which
    # is printed again after it (a quarter of a reprint on each printer broke most of them).
    staffed = SiteRules(staffed_hours=((0, 24),), clear_seconds=600)
    clearing = ClearingRules.of({"A": staffed})(slot(1))
    chains = [Chain(H, (Leg("MK4", H, True, 0.0, H),), clearing) for _ in range(4)]
    past = history_from(noisy_history(3000, 0.05, 0.04, seed=6))
    p = promise_for(H, chains, past, share=0.9)
    assert p.end >= 2 * H + 600
    rng = np.random.default_rng(7)
    finished = []
    for _ in range(4000):
        ends = []
        for _copy in range(4):
            took = H * float(rng.lognormal(0, 0.05))
            if rng.random() < 0.04:  # failed at its end: cleared, then printed again
                took += 600 + H * float(rng.lognormal(0, 0.05))
            ends.append(took)
        finished.append(max(ends))
    kept = kept_share((p.end, t) for t in finished)
    assert kept is not None and kept >= 0.89  # 0.9 within the draw's error (0.005)


def test_failures_widen_the_margin_and_a_job_of_many_runs_allows_reprints() -> None:
    chain = [Chain(10 * H, tuple(Leg("MK4", H, True, i * H, (i + 1) * H) for i in range(10)))]
    reliable = history_from(noisy_history(2000, 0.05, 0.0))
    failing = history_from(noisy_history(2000, 0.05, 0.08))
    assert promise_for(10 * H, chain, failing).end - promise_for(10 * H, chain, reliable).end >= H


def test_the_margin_grows_with_the_work_ahead_on_the_printer_but_less_than_in_proportion() -> None:
    history = history_from(noisy_history(2000, 0.1, 0.0))
    alone = promise_for(H, one_run(), history).end - H
    legs = tuple(Leg("MK4", H, i == 8, i * H, (i + 1) * H) for i in range(9))
    behind_eight = promise_for(9 * H, [Chain(9 * H, legs)], history).end - 9 * H
    assert alone < behind_eight < 9 * alone  # independent runs partly cancel out


def test_a_run_that_may_end_after_the_staffed_hours_is_promised_for_the_morning() -> None:
    staffed = SiteRules(staffed_hours=((7, 18),), clear_seconds=120)
    clearing = ClearingRules.of({"A": staffed})(slot(1))
    history = history_from(noisy_history(2000, 0.1, 0.0))
    # Two runs on one printer: the first is planned to end at 17:55, so a few minutes late
    # and nobody clears the bed before 07:00.
    first = Leg("MK4", 2 * H, False, 15.92 * H, 17.92 * H)
    second = Leg("MK4", H, True, 18.0 * H, 19.0 * H)
    chain = Chain(19.0 * H, (first, second), clearing)
    p = promise_for(19.0 * H, [chain], history)
    assert p.end >= (24 + 7) * H + H  # the next morning's first clear, then the run


def test_with_too_few_runs_the_farm_says_its_confidence_rests_on_typical_figures() -> None:
    history = history_from(noisy_history(MIN_RUNS - 1, 0.1, 0.0))
    p = promise_for(H, one_run(), history)
    assert p.end > H  # the prior still gives a margin
    assert "too few finished runs" in confidence_sentence(p.confidence, p.runs)
    rich = history_from(noisy_history(500, 0.1, 0.0))
    q = promise_for(H, one_run(), rich)
    assert confidence_sentence(q.confidence, q.runs).startswith("9 in 10 jobs like this")


def test_chains_hold_the_runs_ahead_on_each_printer_the_job_is_planned_on() -> None:
    plan = [
        Assignment(1, 10, 1, 0.0, H),
        Assignment(2, 10, 1, H, 2 * H),
        Assignment(2, 11, 1, 0.0, 3 * H),
        Assignment(3, 11, 1, 3 * H, 4 * H),
    ]
    chains = chains_for({2}, plan, {10: slot(10), 11: slot(11, free_at=0.5 * H)}, 0.0)[2]
    by_end = sorted(chains, key=lambda c: c.end)
    assert [c.end for c in by_end] == [2 * H, 3 * H]
    assert [leg.own for leg in by_end[0].legs] == [False, True]  # job 1 first, then its own
    # On printer 11 the current run's remaining half hour comes first; job 3 comes after.
    assert [(leg.own, leg.seconds) for leg in by_end[1].legs] == [(False, 0.5 * H), (True, 3 * H)]


# -- the hold rule ----------------------------------------------------------------------------


def test_a_reshuffle_never_moves_a_promise() -> None:
    decision = hold(promised=10 * H, planned_end=12 * H, renewed=13 * H, disruption="")
    assert not decision.moved and decision.end == 10 * H


def test_a_change_of_the_farm_that_makes_the_plan_later_moves_it_with_the_reason() -> None:
    decision = hold(
        promised=10 * H, planned_end=12 * H, renewed=13 * H, disruption="run failed on p1"
    )
    assert decision.moved and decision.end == 13 * H and decision.reason == "run failed on p1"


def test_a_change_the_plan_absorbs_keeps_the_promise() -> None:
    decision = hold(promised=10 * H, planned_end=9 * H, renewed=11 * H, disruption="site B down")
    assert not decision.moved and decision.end == 10 * H


def test_a_promise_is_the_planners_due_date_when_it_is_sooner() -> None:
    assert due_with(None, 5.0) == 5.0
    assert due_with(3.0, 5.0) == 3.0
    assert due_with(7.0, None) == 7.0


def test_the_error_is_counted_against_the_lead_time_of_each_promise() -> None:
    # Promised at 0 for 10 h: done at 11 h is 10 % off; promised at 0 for 100 h, done at 90 h.
    assert error_p90([(0.0, 10.0, 11.0), (0.0, 100.0, 90.0)]) == pytest.approx(0.1)
    assert kept_share([(10.0, 11.0), (100.0, 90.0)]) == 0.5
