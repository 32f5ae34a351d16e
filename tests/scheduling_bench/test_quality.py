"""The independent check of site rules finds each kind of break; idle time is split by shift."""

from __future__ import annotations

from farm.scheduling import SiteRules
from farm.scheduling.types import Assignment, Plan
from farm.scheduling_bench.quality import idle_hours, rule_violations
from tests.scheduling.helpers import NOW, H, job, printer

RULES = {"A": SiteRules(staffed_hours=((8, 17),), clear_seconds=600, change_seconds=900)}


def check(*runs: Assignment, rules: dict[str, SiteRules] = RULES) -> list[str]:
    work = [job(1, 1), job(2, 1), job(3, 1, material="PETG")]
    return rule_violations(Plan(assignments=list(runs)), [printer(1)], work, rules, now=NOW)


def test_a_run_after_a_bed_cleared_in_the_shift_is_fine() -> None:
    first = Assignment(1, 1, 1, NOW + 9 * H, NOW + 10 * H)
    assert check(first, Assignment(2, 1, 1, NOW + 10 * H + 600, NOW + 11 * H + 600)) == []


def test_a_run_right_after_a_night_end_breaks_the_clearing_rule() -> None:
    first = Assignment(1, 1, 1, NOW + 18 * H, NOW + 19 * H)  # ends 19:00, nobody there
    problems = check(first, Assignment(2, 1, 1, NOW + 19 * H + 600, NOW + 20 * H + 600))
    assert problems and "bed is ready" in problems[0]


def test_an_unplanned_change_is_found() -> None:
    run = Assignment(3, 1, 1, NOW + 9 * H, NOW + 10 * H, material_change=False)
    assert any("change not planned" in p for p in check(run))


def test_too_many_starts_in_one_heat_up_are_found() -> None:
    rules = {"A": SiteRules(max_heating=1, heat_seconds=600)}
    printers = [printer(1), printer(2)]
    runs = [Assignment(1, 1, 1, NOW, NOW + H), Assignment(2, 2, 1, NOW + 60, NOW + H)]
    work = [job(1, 1), job(2, 1)]
    plan = Plan(assignments=runs)
    assert rule_violations(plan, printers, work, rules, now=NOW)
    runs[1] = Assignment(2, 2, 1, NOW + 600, NOW + H + 600)
    assert rule_violations(Plan(assignments=runs), printers, work, rules, now=NOW) == []


def test_idle_time_is_split_at_the_shift_edges() -> None:
    # Staffed 08-17. Printer 1: 09-10, idle 10-18 (7 h staffed, 1 h not), 18-20; printer 2
    # free at 09, idle until its run at 19-20 (8 h staffed, 2 h not); both end at 20:00.
    runs = [
        Assignment(1, 1, 1, NOW + 9 * H, NOW + 10 * H),
        Assignment(2, 1, 1, NOW + 18 * H, NOW + 20 * H),
        Assignment(3, 2, 1, NOW + 19 * H, NOW + 20 * H),
    ]
    printers = [printer(1, free_at=NOW + 9 * H), printer(2, free_at=NOW + 9 * H)]
    idle = idle_hours(Plan(assignments=runs), printers, RULES, now=NOW)
    assert idle == {"staffed": 7.5, "unstaffed": 1.5, "after_last_run": 0.0}
