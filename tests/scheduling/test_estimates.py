from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farm.scheduling.estimates import Corrections, Observation, error_summary


def feed(c: Corrections, model: str, printer_id: int, ratio: float, runs: int) -> None:
    for _ in range(runs):
        c.observe(Observation(model, printer_id, 3600.0, 3600.0 * ratio))


def test_with_no_runs_an_estimate_is_kept() -> None:
    assert Corrections().corrected(3600.0, "MK4", 7) == 3600.0


def test_a_model_that_always_takes_longer_learns_it() -> None:
    c = Corrections()
    feed(c, "MK4", 1, 1.2, 200)
    assert c.model_factor("MK4") == pytest.approx(1.2, rel=0.03)
    assert c.model_factor("XL") == 1.0


def test_one_odd_run_does_not_swing_the_estimate() -> None:
    c = Corrections()
    feed(c, "MK4", 1, 3.0, 1)
    assert 1.0 < c.factor("MK4", 1) < 1.3


def test_a_new_printer_starts_from_its_models_factor() -> None:
    c = Corrections()
    for printer_id in range(10):
        feed(c, "MK4", printer_id, 1.1, 30)
    assert c.factor("MK4", 99) == pytest.approx(c.model_factor("MK4"))


def test_a_slow_printer_gets_its_own_factor() -> None:
    c = Corrections()
    for _ in range(30):  # runs finish across the farm in turn
        for printer_id in range(10):
            feed(c, "MK4", printer_id, 1.0, 1)
        feed(c, "MK4", 42, 1.3, 1)
    assert c.factor("MK4", 42) > 1.2
    assert c.factor("MK4", 3) < 1.05


def test_estimates_improve_as_runs_come_in() -> None:
    rng = random.Random(4)
    c = Corrections()
    before: list[tuple[float, float]] = []
    after: list[tuple[float, float]] = []
    for n in range(400):
        estimate = rng.uniform(1800, 20000)
        actual = estimate * 1.15 * rng.uniform(0.95, 1.05)
        (before if n < 20 else after).append((c.corrected(estimate, "K1", 5), actual))
        c.observe(Observation("K1", 5, estimate, actual))
    assert error_summary(after).median_abs < error_summary(before).median_abs
    assert abs(error_summary(after).bias) < 0.03


def test_it_survives_a_round_trip_through_json_data() -> None:
    c = Corrections()
    feed(c, "MK4", 1, 1.2, 10)
    again = Corrections.from_dict(c.to_dict())
    assert again.factor("MK4", 1) == pytest.approx(c.factor("MK4", 1))


def test_error_summary_reports_bias_and_spread() -> None:
    summary = error_summary([(100.0, 110.0), (100.0, 90.0), (100.0, 130.0)])
    assert summary.runs == 3
    assert summary.bias == pytest.approx(0.1)
    assert summary.within_10_percent == pytest.approx(2 / 3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 1e5), st.floats(1, 1e5)), max_size=40))
def test_factors_stay_within_the_ratio_limits(pairs: list[tuple[float, float]]) -> None:
    c = Corrections()
    for e, a in pairs:
        c.observe(Observation("M", 1, e, a))
    assert 0.25 <= c.factor("M", 1) <= 4.0
