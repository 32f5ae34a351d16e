from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from farm.twin.scenario import from_dict, load
from farm.twin.simulation import simulate

SCENARIOS = Path(__file__).resolve().parents[2] / "farm" / "twin" / "scenarios"


def small(**extra: Any) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "name": "small",
        "days": 3,
        "seed": 5,
        "printers": {"generate": 20, "seed": 5},
        "orders": [
            {
                "name": "rush",
                "at_hours": 1,
                "pieces": 40,
                "parts": 4,
                "seconds_per_copy": 1800,
                "copies_per_plate": 2,
                "size_mm": [40, 40, 20],
                "due_hours": 48,
            }
        ],
    }
    scenario.update(extra)
    return scenario


def test_an_order_on_an_idle_farm_is_finished_and_promised_honestly() -> None:
    report = simulate(from_dict(small()))
    order = report["orders"]["rush"]
    assert order["complete"] and order["pieces_done"] == 40 and order["due_met"]
    # Without failures or time noise the farm does what the plan promised.
    assert order["hours_to_complete"] == pytest.approx(order["planned_hours_at_arrival"], abs=0.01)


def test_failures_and_repairs_lose_runs_but_not_pieces() -> None:
    failures = {"run_failure_rate": 0.2, "mtbf_hours": 24, "repair_hours": 2}
    report = simulate(from_dict(small(failures=failures, time_spread=0.1)))
    assert report["failed_runs"] > 0 and report["breakdowns"] > 0
    assert report["orders"]["rush"]["pieces_done"] == 40


def test_a_site_that_goes_down_hands_its_work_to_the_others() -> None:
    outages = [{"site": "A", "start_hours": 0, "hours": 72}]
    report = simulate(from_dict(small(outages=outages)))
    assert report["orders"]["rush"]["complete"]
    assert report["utilisation_by_site"]["A"] == 0.0


def test_more_printers_never_make_the_order_later() -> None:
    extra = [{"count": 20, "site": "E", "model": "MK4", "build_mm": [250, 210, 220]}]
    base = simulate(from_dict(small()))["orders"]["rush"]["hours_to_complete"]
    more = simulate(from_dict(small(add_printers=extra)))["orders"]["rush"]["hours_to_complete"]
    assert more <= base


def test_background_jobs_are_reported_against_the_days_target() -> None:
    report = simulate(from_dict(small(background={"jobs_per_day": 10}, days=7, orders=[])))
    assert report["other_jobs"] == 70
    assert 0.0 <= report["share_within_5_days"] <= 1.0


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.json")))
def test_the_example_scenarios_load(name: str) -> None:
    scenario = load(SCENARIOS / name)
    assert scenario.printers and scenario.days > 0
    assert json.loads((SCENARIOS / name).read_text())["name"] == scenario.name


def test_learned_corrections_make_estimates_better() -> None:
    scenario = small(
        orders=[],
        days=4,
        background={"jobs_per_day": 15},
        model_bias={"MINI": 1.25, "MK4": 0.85},
        time_spread=0.02,
    )
    plain = simulate(from_dict(scenario))["estimate_error_last_day"]
    learned = simulate(from_dict({**scenario, "learn_estimates": True}))["estimate_error_last_day"]
    assert learned["within_10_percent"] > plain["within_10_percent"]


def test_the_command_takes_another_seed_for_noise_and_failures(tmp_path: Path) -> None:
    scenario = {
        "name": "seeds",
        "days": 1,
        "seed": 1,
        "printers": {"generate": 6, "seed": 1},
        "background": {"jobs_per_day": 30, "seed": 2},
        "time_spread": 0.2,
        "failures": {"run_failure_rate": 0.2},
    }
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(scenario))

    def run(*extra: str) -> dict[str, Any]:
        out = StringIO()
        call_command("simulate", "--scenario", str(path), "--json", *extra, stdout=out)
        return dict(json.loads(out.getvalue()))

    same, other = run("--seed", "1"), run("--seed", "2")
    assert same["estimate_error"] == run()["estimate_error"]  # the scenario's own seed
    assert other["estimate_error"] != same["estimate_error"]
