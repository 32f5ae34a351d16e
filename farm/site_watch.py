"""Is a site up, silent or down, and what becomes of its runs: the rules, as plain Python.

Each site's fleet link sends a heartbeat (`farm.services.sites.site_heartbeat`); a sweep at the
centre reads it (`sites_sweep`). The rules here decide from the values alone, so they are tested
on a clock of their own, with no database:

- A site no fleet link ever watched is *not watched*: it is never taken for down (a new site,
  or the embedded default before its one fleet link first reports).
- A heartbeat older than STALE makes the site *silent*: pages show it as down and its printers
  as unknown at once. The sweep notes when it first found it silent (`silent_since`, on the
  centre's clock); the grace runs from there, so a centre that was itself stopped for an hour
  does not take every site for down the moment it starts again.
- Silent for the grace (FARM_SITE_DOWN_GRACE_SECONDS): *down*. Its not-yet-started work goes to
  other sites (`run_on_down_site`); nothing that may have reached a printer is released.
- A heartbeat again: *up*. Runs in doubt are reconciled from what its printers report.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum

from farm.statuses import RunStatus

# A fleet link writes its heartbeat at most this often (it is called about once a second)...
HEARTBEAT_WRITE_SECONDS = 5.0
# ...so a heartbeat this old means no link has been watching the site for a while: several
# writes missed, or a pass of the link that took this long (a link that cannot poll its
# printers in 20 s is not watching them either).
STALE = datetime.timedelta(seconds=4 * HEARTBEAT_WRITE_SECONDS)


@dataclass(frozen=True)
class SiteWatch:
    """What the farm knows of one site's fleet link (the Site row's fields)."""

    last_heartbeat_at: datetime.datetime | None
    silent_since: datetime.datetime | None
    down_since: datetime.datetime | None
    online: bool = True


class SiteVerdict(StrEnum):
    """What the sweep does to a site now."""

    NOTHING = "nothing"
    SILENT = "silent"  # the heartbeat went stale: note it, and start the grace
    HEARD_AGAIN = "heard_again"  # a heartbeat before the grace ran out: forget the silence
    DOWN = "down"  # silent for the grace: mark it down and release its work
    UP = "up"  # a down site reports again


class SiteCondition(StrEnum):
    """What pages say of a site."""

    UP = "up"
    NOT_WATCHED = "not watched"  # no fleet link has ever reported for it
    SILENT = "silent"  # no heartbeat lately: shown as down, work moves after the grace
    DOWN = "down"  # its work moved to other sites
    OFFLINE = "offline"  # switched off by an administrator

    @property
    def shown_down(self) -> bool:
        """Shown as down, its printers as unknown (they may well be printing on their own)."""
        return self in (SiteCondition.SILENT, SiteCondition.DOWN)


def heartbeat_fresh(watch: SiteWatch, now: datetime.datetime) -> bool:
    return watch.last_heartbeat_at is not None and now - watch.last_heartbeat_at <= STALE


def site_verdict(
    watch: SiteWatch, *, now: datetime.datetime, grace: datetime.timedelta
) -> SiteVerdict:
    if watch.last_heartbeat_at is None:
        return SiteVerdict.NOTHING  # never watched: not down, whatever its age
    if heartbeat_fresh(watch, now):
        if watch.down_since is not None:
            return SiteVerdict.UP
        return SiteVerdict.HEARD_AGAIN if watch.silent_since is not None else SiteVerdict.NOTHING
    if watch.down_since is not None:
        return SiteVerdict.NOTHING  # still down
    if watch.silent_since is None:
        return SiteVerdict.SILENT
    return SiteVerdict.DOWN if now - watch.silent_since >= grace else SiteVerdict.NOTHING


def site_condition(watch: SiteWatch, *, now: datetime.datetime) -> SiteCondition:
    if watch.down_since is not None:
        return SiteCondition.DOWN
    if not watch.online:
        return SiteCondition.OFFLINE
    if watch.last_heartbeat_at is None:
        return SiteCondition.NOT_WATCHED
    return SiteCondition.UP if heartbeat_fresh(watch, now) else SiteCondition.SILENT


def release_in(
    watch: SiteWatch, *, now: datetime.datetime, grace: datetime.timedelta
) -> datetime.timedelta | None:
    """How long until a silent site's work is released (None when it is not silent)."""
    if site_condition(watch, now=now) is not SiteCondition.SILENT:
        return None
    # Before the sweep has noticed the silence, the grace has not started yet.
    started = watch.silent_since or now
    return max(datetime.timedelta(0), started + grace - now)


@dataclass(frozen=True)
class RunOnSite:
    """One run of a down site, as the release rules see it."""

    status: str  # a RunStatus value
    dispatch_claimed: bool  # a dispatch task ever took its lease (dispatch_holder set)
    dispatch_lease_until: datetime.datetime | None


class RunFate(StrEnum):
    KEEP = "keep"  # leave it: look again at the next sweep
    RELEASE = "release"  # nothing reached the printer: its copies go back to the queue
    IN_DOUBT = "in_doubt"  # it may be printing: keep its copies until the printer says


def run_on_down_site(run: RunOnSite, *, now: datetime.datetime) -> RunFate:
    """What becomes of a run on a site that is down.

    Only a run no dispatch ever took is released: its G-code never left the farm, and the
    claim (a conditional UPDATE on the run that requires the dispatch lease to be untaken)
    makes a dispatch arriving later do nothing. A dispatch that took the lease may have reached
    the printer: while its lease is live it is still talking to the printer (and will record a
    start or a failure); once it lapsed, the run is in doubt like a printing one. A run in
    doubt keeps its copies off the queue until the printer reports (or a person decides),
    so nothing prints twice; no run is failed because its site went dark.
    """
    if run.status == RunStatus.DISPATCHING:
        if not run.dispatch_claimed:
            return RunFate.RELEASE
        live = run.dispatch_lease_until is not None and run.dispatch_lease_until >= now
        return RunFate.KEEP if live else RunFate.IN_DOUBT
    if run.status in (RunStatus.PRINTING, RunStatus.PAUSED):
        return RunFate.IN_DOUBT
    return RunFate.KEEP
