from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from farm.scheduling.calendar import Staffing, Stagger, after_windows
from farm.scheduling.types import SiteRules
from tests.scheduling.helpers import NOW, H

DAY_SHIFT = Staffing(SiteRules(staffed_hours=((8, 17),), staffed_weekdays=(0, 1, 2, 3, 4)))


def test_a_site_without_staffed_hours_is_always_staffed() -> None:
    assert Staffing(SiteRules()).next_staffed(NOW + 3 * H) == NOW + 3 * H


def test_night_work_waits_for_the_morning_shift() -> None:
    assert DAY_SHIFT.next_staffed(NOW + 3 * H) == NOW + 8 * H  # Monday 03:00 -> 08:00


def test_during_the_shift_someone_is_there_now() -> None:
    assert DAY_SHIFT.next_staffed(NOW + 9 * H) == NOW + 9 * H
    assert DAY_SHIFT.shift_end(NOW + 9 * H) == NOW + 17 * H


def test_friday_evening_waits_for_monday() -> None:
    friday_evening = NOW + 4 * 24 * H + 18 * H
    assert DAY_SHIFT.next_staffed(friday_evening) == NOW + 7 * 24 * H + 8 * H


def test_a_night_shift_runs_past_midnight() -> None:
    nights = Staffing(SiteRules(staffed_hours=((22, 6),)))
    assert nights.next_staffed(NOW + 3 * H) == NOW + 3 * H  # Sunday's shift, Monday 03:00
    assert nights.next_staffed(NOW + 12 * H) == NOW + 22 * H


def test_local_time_follows_the_utc_offset() -> None:
    berlin = Staffing(SiteRules(staffed_hours=((8, 17),), utc_offset_hours=1))
    assert berlin.next_staffed(NOW) == NOW + 7 * H


def test_a_run_is_moved_past_a_maintenance_window() -> None:
    assert after_windows(NOW, 2 * H, ((NOW + H, NOW + 2 * H),)) == NOW + 2 * H
    assert after_windows(NOW, 1 * H, ((NOW + H, NOW + 2 * H),)) == NOW


def test_no_staffed_day_means_never_staffed() -> None:
    nobody = Staffing(SiteRules(staffed_hours=((8, 17),), staffed_weekdays=()))
    assert math.isinf(nobody.next_staffed(NOW))


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 12),
    st.lists(st.floats(0, 3600, allow_nan=False), min_size=1, max_size=60),
)
def test_staggered_starts_never_heat_more_than_the_limit(limit: int, wanted: list[float]) -> None:
    stagger = Stagger(limit, 300.0)
    starts = sorted(stagger.take(NOW + t) for t in wanted)
    for t in starts:
        assert sum(1 for s in starts if s <= t < s + 300.0) <= limit
    assert all(s >= NOW for s in starts)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 14 * 24 * 3600, allow_nan=False))
def test_the_next_staffed_moment_is_staffed_and_never_earlier(offset: float) -> None:
    t = NOW + offset
    staffed = DAY_SHIFT.next_staffed(t)
    assert staffed >= t
    assert DAY_SHIFT.shift_end(staffed) > staffed


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 14 * 24 * 3600, allow_nan=False), min_size=1, max_size=20))
def test_answers_do_not_depend_on_what_was_asked_before(offsets: list[float]) -> None:
    rules = SiteRules(staffed_hours=((6, 14), (22, 6)), staffed_weekdays=(0, 1, 2, 3, 4, 5))
    shared = Staffing(rules)
    for offset in offsets:
        t = NOW + offset
        assert math.isclose(shared.next_staffed(t), Staffing(rules).next_staffed(t), abs_tol=1e-6)
        assert math.isclose(shared.shift_end(t), Staffing(rules).shift_end(t), abs_tol=1e-6)
