from __future__ import annotations

import json

from farm.scheduling.planner import plan
from farm.scheduling_bench import bench
from farm.scheduling_bench.instance import from_dict, generate, plan_rows, to_dict


def test_a_generated_instance_survives_a_round_trip_through_the_file_format() -> None:
    instance = bench.with_setups(generate(30, 120, seed=2))
    again = from_dict(json.loads(json.dumps(to_dict(instance))))
    assert again.printers == instance.printers
    assert again.jobs == instance.jobs
    assert again.sites == instance.sites


def test_the_bench_reports_quality_and_a_valid_plan() -> None:
    report, result = bench.run(generate(40, 300, seed=1), decisions=50)
    assert report["plan_violations"] == 0
    assert report["makespan_hours"] >= report["lower_bound_hours"] > 0
    assert 0.0 <= report["due_dates_met"] <= 1.0
    assert report["incremental_decisions"] == 50
    rows = plan_rows(result)
    assert sum(r["copies"] for r in rows) == report["copies"]


def test_the_plan_of_a_loaded_instance_matches_the_original() -> None:
    instance = generate(20, 80, seed=4)
    again = from_dict(to_dict(instance))
    first = plan(instance.printers, instance.jobs, now=instance.now)
    second = plan(again.printers, again.jobs, now=again.now)
    assert plan_rows(first) == plan_rows(second)
