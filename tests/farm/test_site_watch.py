"""The site rules on a clock of their own (farm.site_watch): no database, no processes."""

from __future__ import annotations

import datetime

import pytest

from farm.site_watch import (
    STALE,
    RunFate,
    RunOnSite,
    SiteCondition,
    SiteVerdict,
    SiteWatch,
    release_in,
    run_on_down_site,
    site_condition,
    site_verdict,
)
from farm.statuses import RunStatus

T0 = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)
GRACE = datetime.timedelta(seconds=60)


def s(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def watch(
    heard: float | None, silent: float | None = None, down: float | None = None, online: bool = True
) -> SiteWatch:
    return SiteWatch(
        last_heartbeat_at=None if heard is None else s(heard),
        silent_since=None if silent is None else s(silent),
        down_since=None if down is None else s(down),
        online=online,
    )


def step(w: SiteWatch, at: float) -> tuple[SiteVerdict, SiteWatch]:
    """One sweep at `at`, applied the way farm.services.sites applies it."""
    verdict = site_verdict(w, now=s(at), grace=GRACE)
    if verdict is SiteVerdict.SILENT:
        w = SiteWatch(w.last_heartbeat_at, s(at), None, w.online)
    elif verdict is SiteVerdict.HEARD_AGAIN:
        w = SiteWatch(w.last_heartbeat_at, None, None, w.online)
    elif verdict is SiteVerdict.DOWN:
        w = SiteWatch(w.last_heartbeat_at, w.silent_since, s(at), False)
    elif verdict is SiteVerdict.UP:
        w = SiteWatch(w.last_heartbeat_at, None, None, True)
    return verdict, w


def test_a_site_no_fleet_link_ever_watched_is_never_down() -> None:
    never = watch(None)
    for at in (0, 3600, 10 * 86400):
        assert site_verdict(never, now=s(at), grace=GRACE) is SiteVerdict.NOTHING
        assert site_condition(never, now=s(at)) is SiteCondition.NOT_WATCHED
        assert not site_condition(never, now=s(at)).shown_down


def test_a_fresh_heartbeat_is_up() -> None:
    w = watch(0)
    assert site_verdict(w, now=s(STALE.total_seconds()), grace=GRACE) is SiteVerdict.NOTHING
    assert site_condition(w, now=s(STALE.total_seconds())) is SiteCondition.UP


def test_silence_shows_down_at_once_and_is_down_after_the_grace_counted_from_the_sweep() -> None:
    w = watch(0)
    stale = STALE.total_seconds() + 1
    assert site_condition(w, now=s(stale)) is SiteCondition.SILENT
    assert site_condition(w, now=s(stale)).shown_down
    # Before any sweep noticed, the whole grace is still ahead.
    assert release_in(w, now=s(stale), grace=GRACE) == GRACE

    verdict, w = step(w, stale)
    assert verdict is SiteVerdict.SILENT and w.silent_since == s(stale)
    verdict, w = step(w, stale + 59)
    assert verdict is SiteVerdict.NOTHING and w.down_since is None
    assert release_in(w, now=s(stale + 59), grace=GRACE) == datetime.timedelta(seconds=1)
    verdict, w = step(w, stale + 60)
    assert verdict is SiteVerdict.DOWN and w.down_since == s(stale + 60) and not w.online
    assert site_condition(w, now=s(stale + 60)) is SiteCondition.DOWN
    assert release_in(w, now=s(stale + 60), grace=GRACE) is None
    # Still silent: it stays down, and nothing is done twice.
    verdict, w = step(w, stale + 600)
    assert verdict is SiteVerdict.NOTHING and w.down_since == s(stale + 60)


def test_a_heartbeat_within_the_grace_forgets_the_silence() -> None:
    _, w = step(watch(0), 30)
    assert w.silent_since == s(30)
    w = SiteWatch(s(50), w.silent_since, None)
    verdict, w = step(w, 51)
    assert verdict is SiteVerdict.HEARD_AGAIN and w.silent_since is None
    assert site_condition(w, now=s(51)) is SiteCondition.UP
    # A later silence gets a whole grace again.
    _, w = step(w, 50 + STALE.total_seconds() + 1)
    verdict, w = step(w, 50 + STALE.total_seconds() + 60)
    assert verdict is SiteVerdict.NOTHING


def test_a_down_site_that_reports_again_is_up() -> None:
    w = watch(0, silent=30, down=90, online=False)
    assert step(w, 100)[0] is SiteVerdict.NOTHING
    verdict, w = step(SiteWatch(s(200), w.silent_since, w.down_since, False), 201)
    assert verdict is SiteVerdict.UP
    assert w == SiteWatch(s(200), None, None, True)
    assert site_condition(w, now=s(201)) is SiteCondition.UP


def test_a_centre_that_was_stopped_does_not_take_its_sites_for_down() -> None:
    # The farm was stopped for an hour: every heartbeat is an hour old when beat starts.
    _, w = step(watch(0), 3600)
    assert w.down_since is None and w.silent_since == s(3600)
    # The site's fleet link reports a few seconds later, well within the grace.
    verdict, w = step(SiteWatch(s(3605), w.silent_since, None), 3610)
    assert verdict is SiteVerdict.HEARD_AGAIN and w.down_since is None


def test_a_site_switched_off_by_an_administrator_is_offline_not_down() -> None:
    w = watch(0, online=False)
    assert site_condition(w, now=s(1)) is SiteCondition.OFFLINE
    assert not site_condition(w, now=s(1)).shown_down
    assert site_verdict(w, now=s(1), grace=GRACE) is SiteVerdict.NOTHING


def run(status: str, claimed: bool = False, lease_until: float | None = None) -> RunOnSite:
    until = None if lease_until is None else s(lease_until)
    return RunOnSite(status=status, dispatch_claimed=claimed, dispatch_lease_until=until)


@pytest.mark.parametrize(
    ("on_site", "fate"),
    [
        # No dispatch ever took it: its G-code never left the farm.
        (run(RunStatus.DISPATCHING), RunFate.RELEASE),
        # A dispatch is talking to the printer right now: it records the outcome itself.
        (run(RunStatus.DISPATCHING, claimed=True, lease_until=110), RunFate.KEEP),
        # A dispatch took it and stopped renewing: the file may be on the printer.
        (run(RunStatus.DISPATCHING, claimed=True, lease_until=90), RunFate.IN_DOUBT),
        (run(RunStatus.DISPATCHING, claimed=True, lease_until=None), RunFate.IN_DOUBT),
        # Printing: the printer goes on by itself; never failed for its site going dark.
        (run(RunStatus.PRINTING, claimed=True), RunFate.IN_DOUBT),
        (run(RunStatus.PAUSED, claimed=True), RunFate.IN_DOUBT),
        (run(RunStatus.IN_DOUBT, claimed=True), RunFate.KEEP),
        (run(RunStatus.INTERRUPTED, claimed=True), RunFate.KEEP),
        (run(RunStatus.AWAITING_REMOVAL, claimed=True), RunFate.KEEP),
        (run(RunStatus.DONE, claimed=True), RunFate.KEEP),
    ],
)
def test_the_release_rules(on_site: RunOnSite, fate: RunFate) -> None:
    assert run_on_down_site(on_site, now=s(100)) is fate
