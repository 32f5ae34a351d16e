"""The twin's promises (farm.twin.promises): the farm's promise rules, measured."""

from __future__ import annotations

from typing import Any

from farm.twin.promises import best_within
from farm.twin.scenario import from_dict
from farm.twin.simulation import simulate


def farm(**extra: Any) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "name": "promises",
        "days": 3,
        "seed": 7,
        "printers": {"generate": 12, "seed": 7},
        "background": {"jobs_per_day": 40, "seed": 8},
        "replan_hours": 1,
        "promises": {"share": 0.9},
    }
    scenario.update(extra)
    return scenario


def test_without_changes_of_the_farm_no_promise_moves() -> None:
    promises = simulate(from_dict(farm()))["promises"]
    assert promises["judged_jobs"] > 50
    assert promises["moved_jobs"] == 0 and promises["moves_by_reason"] == {}
    # Only the planner's own fresh plans (`PlanOptions.replan_gain`) break promises here: a
    # farm that prints exactly as planned keeps most of them without any margin.
    assert promises["kept_share"] >= 0.7


def test_with_noise_and_failures_the_margin_keeps_what_the_plan_alone_would_not() -> None:
    noisy = farm(time_spread=0.1, failures={"run_failure_rate": 0.1, "mtbf_hours": 100})
    promises = simulate(from_dict(noisy))["promises"]
    assert promises["kept_share"] > promises["kept_share_without_margin"] + 0.2
    assert promises["kept_share_after_moves"] >= promises["kept_share"]
    assert promises["moved_jobs"] > 0 and set(promises["moves_by_reason"]) <= {
        "run failed",
        "out of service",
        "site down",
    }


def test_without_promises_the_twin_reports_none() -> None:
    assert "promises" not in simulate(from_dict(farm(promises=None)))


def test_the_best_share_within_ten_percent_is_two_sigmas_for_one_print_and_more_with_a_wait() -> (
    None
):
    # One print with 10 % noise: a window of +-10 % around any promise holds at most the
    # mass of +-1 sigma (ln(1.1 / 0.9) = 0.2), 0.68.
    assert abs(best_within(3600.0, 3600.0, 0.1) - 0.684) < 0.005
    # A certain wait of nine prints before it: the same noise is a tenth of the lead.
    assert best_within(36_000.0, 3600.0, 0.1) > 0.99
    assert best_within(7200.0, 3600.0, 0.1) > best_within(3600.0, 3600.0, 0.1)


def test_the_twin_reports_the_best_share_any_promise_could_keep_within_ten_percent() -> None:
    noisy = farm(time_spread=0.1)
    promises = simulate(from_dict(noisy))["promises"]
    best = promises["best_share_within_10_percent_of_lead"]
    assert best is not None and 0.5 < best < 1.0
    assert simulate(from_dict(farm()))["promises"]["best_share_within_10_percent_of_lead"] is None
