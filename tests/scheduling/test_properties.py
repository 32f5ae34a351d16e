"""Whatever the farm looks like, a plan never breaks the rules a printer cannot break."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farm.scheduling import Engine, PlanOptions, SiteRules, plan
from farm.scheduling.types import PrinterSlot, WorkItem
from farm.scheduling_bench.quality import violations
from tests.scheduling.helpers import NOW, H

SITES = ("A", "B")
MATERIALS = ("PLA", "PETG", "ABS")
COLOURS = ("black", "white")
BUILDS = ((180.0, 180.0, 180.0), (250.0, 210.0, 220.0), (360.0, 360.0, 360.0))


@st.composite
def printers(draw: st.DrawFn) -> list[PrinterSlot]:
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        build = draw(st.sampled_from(BUILDS))
        window = draw(st.sampled_from([(), ((NOW + 2 * H, NOW + 5 * H),)]))
        out.append(
            PrinterSlot(
                id=i + 1,
                site=draw(st.sampled_from(SITES)),
                model=f"M{BUILDS.index(build)}",
                free_at=NOW + draw(st.sampled_from([0.0, 0.5, 3.0, 10.0])) * H,
                material=draw(st.sampled_from(MATERIALS)),
                colour=draw(st.sampled_from(COLOURS)),
                nozzle_mm=draw(st.sampled_from([0.4, 0.6])),
                build_mm=build,
                materials=draw(st.sampled_from([frozenset(), frozenset({"PLA", "PETG"})])),
                needs_clearing=draw(st.booleans()),
                auto_eject=draw(st.booleans()),
                maintenance=window,
            )
        )
    return out


@st.composite
def jobs(draw: st.DrawFn) -> list[WorkItem]:
    n = draw(st.integers(1, 8))
    out = []
    for j in range(n):
        side = draw(st.sampled_from([50.0, 200.0, 300.0, 400.0]))
        out.append(
            WorkItem(
                job_id=j + 1,
                copies=draw(st.integers(1, 4)),
                seconds_per_copy=draw(st.sampled_from([0.25, 1.0, 2.5, 9.0])) * H,
                material=draw(st.sampled_from(MATERIALS)),
                colour=draw(st.sampled_from(("",) + COLOURS)),
                size_mm=(side, 40.0, 30.0),
                nozzle_mm=draw(st.sampled_from([None, 0.4, 0.6])),
                priority=draw(st.integers(-1, 2)),
                due=draw(st.sampled_from([None, NOW + 5 * H, NOW + 40 * H])),
                site=draw(st.sampled_from([None, None, "A", "B"])),
                preferred_site=draw(st.sampled_from([None, "A", "B"])),
                copies_per_plate=draw(st.integers(1, 3)),
                model_seconds=draw(st.sampled_from([(), (("M2", 0.5 * H),)])),
            )
        )
    return out


site_rules = st.builds(
    SiteRules,
    staffed_hours=st.sampled_from([(), ((8.0, 17.0),), ((22.0, 6.0),)]),
    staffed_weekdays=st.sampled_from([(0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5, 6)]),
    clear_seconds=st.sampled_from([0.0, 300.0]),
    change_seconds=st.sampled_from([0.0, 900.0]),
    max_heating=st.integers(0, 3),
    down=st.sampled_from([(), ((NOW, NOW + 24 * H),)]),
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(printers(), jobs(), st.dictionaries(st.sampled_from(SITES), site_rules))
def test_a_plan_never_uses_an_ineligible_printer_overlaps_or_starts_early(
    fleet: list[PrinterSlot], work: list[WorkItem], rules: dict[str, SiteRules]
) -> None:
    result = plan(fleet, work, now=NOW, sites=rules)
    assert violations(result, fleet, work, now=NOW) == []


@FAST
@given(printers(), jobs())
def test_the_lower_bound_never_exceeds_the_plan(
    fleet: list[PrinterSlot], work: list[WorkItem]
) -> None:
    result = plan(fleet, work, now=NOW)
    if result.assignments:
        assert result.lower_bound is not None
        assert result.lower_bound <= max(a.end for a in result.assignments) + 1e-6


@FAST
@given(printers(), jobs(), st.dictionaries(st.sampled_from(SITES), site_rules))
def test_the_engine_plan_is_valid_too(
    fleet: list[PrinterSlot], work: list[WorkItem], rules: dict[str, SiteRules]
) -> None:
    result = Engine(fleet, work, now=NOW, sites=rules).run()
    assert violations(result, fleet, work, now=NOW) == []
    if result.assignments:
        assert result.lower_bound is not None
        assert result.lower_bound <= max(a.end for a in result.assignments) + 1e-6


@FAST
@given(printers(), jobs())
def test_without_changes_a_printer_only_gets_its_loaded_material(
    fleet: list[PrinterSlot], work: list[WorkItem]
) -> None:
    options = PlanOptions(allow_material_changes=False)
    result = plan(fleet, work, now=NOW, options=options)
    assert violations(result, fleet, work, now=NOW) == []
    assert not any(a.material_change for a in result.assignments)


@FAST
@given(printers(), jobs(), st.data())
def test_single_decisions_never_double_book_a_printer(
    fleet: list[PrinterSlot], work: list[WorkItem], data: st.DataObject
) -> None:
    engine = Engine(fleet, work, now=NOW)
    ready = {p.id: max(p.free_at, NOW) for p in fleet}
    runs = []
    for _ in range(20):
        pid = data.draw(st.sampled_from(sorted(ready)))
        a = engine.next_for_printer(pid, at=ready[pid])
        if a is None:
            continue
        assert a.start >= ready[pid]
        ready[pid] = a.end
        runs.append(a)
    by_id = {p.id: p for p in fleet}
    for a in runs:
        w = next(w for w in work if w.job_id == a.job_id)
        from farm.scheduling.types import incompatibility

        assert incompatibility(by_id[a.printer_id], w) is None
