from __future__ import annotations

import pytest

from farm.scheduling import Engine, PlanOptions, SiteRules, plan
from farm.scheduling.planner import quote
from farm.scheduling.types import PrinterSlot, WorkItem
from farm.scheduling_bench.instance import generate
from farm.scheduling_bench.quality import assess, violations
from tests.scheduling.helpers import NOW, XL, H, job, printer


def makespan_hours(printers: list[PrinterSlot], work: list[WorkItem], **kw: object) -> float:
    result = plan(printers, work, now=NOW, **kw)  # type: ignore[arg-type]
    assert violations(result, printers, work, now=NOW) == []
    return max(a.end for a in result.assignments) / H - NOW / H


# (name, printers, jobs, optimal makespan in hours, lower bound in hours)
KNOWN_OPTIMA = [
    ("one printer runs everything back to back", [printer(1)], [job(1, 2), job(2, 3)], 5, 5),
    ("two printers share two equal jobs", [printer(1), printer(2)], [job(1, 1), job(2, 1)], 1, 1),
    (
        "copies spread over idle printers",
        [printer(i) for i in range(1, 5)],
        [job(1, 2, copies=8)],
        4,
        4,
    ),
    (
        "a big part goes to the only printer it fits, small parts to the other",
        [printer(1, model="XL", build_mm=XL), printer(2)],
        [job(1, 4, size_mm=(300, 300, 100)), job(2, 2), job(3, 2)],
        4,
        4,
    ),
    (
        "parts that fit only the big printer set the bound, not work / printers",
        [printer(1, model="XL", build_mm=XL), printer(2)],
        [job(i, 1, size_mm=(300, 300, 100)) for i in range(1, 4)],
        3,
        3,
    ),
    (
        "a nozzle requirement picks the printer",
        [printer(1, nozzle_mm=0.6), printer(2)],
        [job(1, 3, nozzle_mm=0.6), job(2, 1, nozzle_mm=0.6), job(3, 4)],
        4,
        4,
    ),
    (
        "a busy printer is used from when it is free",
        [printer(1, free_at=NOW + 2 * H), printer(2)],
        [job(1, 3), job(2, 2)],
        4,
        3.5,
    ),
    (
        "the longest plate first balances two printers",
        [printer(1), printer(2)],
        [job(1, 3), job(2, 3), job(3, 2), job(4, 2), job(5, 1), job(6, 1)],
        6,
        6,
    ),
    (
        "copies per plate print together",
        [printer(1)],
        [job(1, 1, copies=4, copies_per_plate=2)],
        4,
        4,
    ),
    (
        "a model's own print time is used",
        [printer(1, model="XL", build_mm=XL)],
        [job(1, 2, model_seconds=(("XL", 1 * H),))],
        1,
        1,
    ),
]


@pytest.mark.parametrize(
    ("printers", "work", "optimum", "bound"),
    [case[1:] for case in KNOWN_OPTIMA],
    ids=[case[0] for case in KNOWN_OPTIMA],
)
def test_it_finds_the_known_optimum(
    printers: list[PrinterSlot], work: list[WorkItem], optimum: float, bound: float
) -> None:
    assert makespan_hours(printers, work) == pytest.approx(optimum)
    result = plan(printers, work, now=NOW)
    assert result.lower_bound is not None
    assert (result.lower_bound - NOW) / H == pytest.approx(bound, abs=1 / 60)


def test_the_engine_agrees_on_the_known_optima() -> None:
    for _, printers, work, optimum, _ in KNOWN_OPTIMA:
        result = Engine(printers, work, now=NOW).run()
        assert violations(result, printers, work, now=NOW) == []
        assert max(a.end for a in result.assignments) <= NOW + optimum * H + 1


def test_it_reports_work_that_fits_no_printer_with_the_reason() -> None:
    result = plan([printer(1)], [job(1, 1, size_mm=(500, 10, 10)), job(2, 1)], now=NOW)
    assert "does not fit" in result.unplaceable[1]
    assert [a.job_id for a in result.assignments] == [2]


def test_it_reports_a_material_no_printer_can_print() -> None:
    printers = [printer(1, materials=frozenset({"PLA"}))]
    result = plan(printers, [job(1, 1, material="ABS")], now=NOW)
    assert result.unplaceable == {1: "no printer can print ABS"}


def test_it_reports_a_site_without_printers() -> None:
    result = plan([printer(1)], [job(1, 1, site="B")], now=NOW)
    assert result.unplaceable == {1: "restricted to site B"}


def test_it_keeps_loaded_material_when_changes_are_not_allowed() -> None:
    options = PlanOptions(allow_material_changes=False)
    result = plan([printer(1)], [job(1, 1, material="PETG")], now=NOW, options=options)
    assert 1 in result.unplaceable


def test_it_runs_urgent_work_first_on_a_printer() -> None:
    work = [job(1, 5), job(2, 1, priority=2), job(3, 1, due=NOW + 3 * H)]
    result = plan([printer(1)], work, now=NOW)
    order = [a.job_id for a in sorted(result.assignments, key=lambda a: a.start)]
    assert order == [2, 3, 1]
    quality = assess(result, work, now=NOW)
    assert quality.due_met_share == 1.0


def test_it_counts_tardiness_by_priority_weight() -> None:
    work = [job(1, 2, due=NOW + 1 * H, priority=1)]
    quality = assess(plan([printer(1)], work, now=NOW), work, now=NOW)
    assert quality.weighted_tardiness_hours == pytest.approx(4.0)  # 1 h late x weight 4
    assert quality.due_met_share == 0.0


def test_it_prints_the_loaded_material_first_to_save_a_change() -> None:
    rules = {"A": SiteRules(change_seconds=600)}
    work = [job(1, 2, material="PETG"), job(2, 1, material="PLA")]
    result = plan([printer(1, material="PLA")], work, now=NOW, sites=rules)
    first, second = sorted(result.assignments, key=lambda a: a.start)
    assert (first.job_id, first.material_change) == (2, False)
    assert (second.job_id, second.material_change) == (1, True)
    assert second.start == pytest.approx(first.end + 600)


def test_it_waits_for_the_shift_to_clear_a_bed_finished_at_night() -> None:
    rules = {"A": SiteRules(staffed_hours=((8, 17),), clear_seconds=300)}
    work = [job(1, 16), job(2, 1)]  # the 16 h print starts at midnight, ends 16:00
    result = plan([printer(1)], work, now=NOW, sites=rules)
    runs = sorted(result.assignments, key=lambda a: a.start)
    assert runs[0].start == NOW  # nothing on the bed yet: it can start at once
    assert runs[1].start == pytest.approx(runs[0].end + 300)


def test_it_starts_a_short_print_by_day_instead_of_leaving_a_bed_full_overnight() -> None:
    rules = {"A": SiteRules(staffed_hours=((8, 17),))}
    start = NOW + 15 * H  # 15:00: two hours of shift left
    work = [job(1, 4), job(2, 1)]
    result = plan([printer(1, free_at=start)], work, now=NOW, sites=rules)
    first = min(result.assignments, key=lambda a: a.start)
    assert first.job_id == 2


def test_it_limits_how_many_printers_heat_up_at_once() -> None:
    rules = {"A": SiteRules(max_heating=2, heat_seconds=300)}
    printers = [printer(i) for i in range(1, 7)]
    result = plan(printers, [job(i, 1) for i in range(1, 7)], now=NOW, sites=rules)
    starts = sorted(a.start for a in result.assignments)
    for t in starts:
        heating = sum(1 for s in starts if s <= t < s + 300)
        assert heating <= 2


def test_it_plans_around_maintenance_windows() -> None:
    window = (NOW + 1 * H, NOW + 3 * H)
    result = plan([printer(1, maintenance=(window,))], [job(1, 2)], now=NOW)
    assert result.assignments[0].start == window[1]


def test_it_moves_work_off_a_site_that_is_down() -> None:
    rules = {"B": SiteRules(down=((NOW, NOW + 48 * H),))}
    printers = [printer(1, site="A"), printer(2, site="B")]
    result = plan(printers, [job(1, 2), job(2, 2)], now=NOW, sites=rules)
    assert {a.printer_id for a in result.assignments} == {1}


def test_it_prefers_the_site_where_the_part_is_needed() -> None:
    printers = [printer(1, site="A"), printer(2, site="B")]
    result = plan(printers, [job(1, 2, preferred_site="B")], now=NOW)
    assert result.assignments[0].printer_id == 2


def test_one_printer_becoming_ready_gets_its_next_run_without_a_replan() -> None:
    printers = [printer(1), printer(2, material="PETG")]
    work = [job(1, 2, material="PETG"), job(2, 1, copies=2)]
    engine = Engine(printers, work, now=NOW)
    first = engine.next_for_printer(2, at=NOW)
    assert first is not None and first.job_id == 1 and not first.material_change
    second = engine.next_for_printer(1, at=NOW + H)
    assert second is not None and second.job_id == 2 and second.start == NOW + H
    third = engine.next_for_printer(1, at=NOW + 2 * H)
    assert third is not None and third.job_id == 2
    assert engine.next_for_printer(1, at=NOW + 3 * H) is None


def test_copies_of_a_failed_run_go_to_the_next_compatible_printer() -> None:
    engine = Engine([printer(1), printer(2)], [job(1, 2), job(2, 5)], now=NOW)
    first = engine.next_for_printer(1, at=NOW)
    assert first is not None
    engine.requeue(first.job_id, first.copies)  # the print failed
    again = engine.next_for_printer(2, at=NOW + H)
    assert again is not None and again.job_id == first.job_id
    assert engine.can_print(2, first.job_id)


def test_a_quote_is_the_planned_completion_of_the_new_job() -> None:
    queued = [job(1, 3)]
    done, why = quote([printer(1)], queued, job(2, 2), now=NOW)
    assert (done, why) == (NOW + 5 * H, "")


def test_a_quote_says_why_a_job_cannot_print() -> None:
    done, why = quote([printer(1)], [], job(2, 2, size_mm=(900, 10, 10)), now=NOW)
    assert done is None and "does not fit" in why


def test_without_site_rules_printers_keep_their_material_when_it_costs_little() -> None:
    printers = [printer(1, material="PLA"), printer(2, material="PETG")]
    work = [job(1, 0.5, material="PETG", copies=2), job(2, 0.5, material="PLA", copies=2)]
    result = plan(printers, work, now=NOW)
    assert not any(a.material_change for a in result.assignments)
    by_printer = {a.printer_id: a.job_id for a in result.assignments}
    assert by_printer == {1: 2, 2: 1}


def test_grouping_by_material_saves_changes_on_a_mixed_farm() -> None:
    farm = generate(60, 400, seed=5)
    grouped = plan(farm.printers, farm.jobs, now=farm.now)
    ungrouped = plan(
        farm.printers, farm.jobs, now=farm.now, options=PlanOptions(change_penalty_seconds=0)
    )
    changes = [sum(a.material_change for a in p.assignments) for p in (grouped, ungrouped)]
    assert changes[0] < changes[1]
