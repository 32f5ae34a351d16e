"""The twin's promises (farm.twin.promises): the farm's promise rules, measured."""

from __future__ import annotations

from typing import Any

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
