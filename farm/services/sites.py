"""Sites that fail over: fleet-link heartbeats, sites marked down and up, their work released.

The rules are `farm.site_watch` (plain Python); this module reads and writes the rows.

- `site_heartbeat` is what a fleet link calls after each pass (`SiteHeartbeat` throttles it):
  one conditional UPDATE every few seconds per link, which writes only the rows whose last
  heartbeat is older than half that, so 50 sites × several shards cost a few row writes a
  second. The time written is the database's, not the site machine's, whose clock may be off.
  It lives in the database rather than in a Redis key with a TTL: a Redis restarted empty
  would make every site look silent at once (measured on PostgreSQL, one call costs 1.5 ms
  when it writes nothing and 5.5 ms when it writes).
- `sites_sweep` (beat, every 10 s) notes silent sites, marks a site silent past
  FARM_SITE_DOWN_GRACE_SECONDS down (the planner then leaves its printers out), applies the
  release rules to its runs, and marks it up when its heartbeat returns.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from farm.models import Job, Printer, PrintRun, Site
from farm.models.event import EventKind
from farm.services.doubt import run_mark_in_doubt
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.jobs import job_refresh_status
from farm.services.promise_disruptions import promises_disrupt_printers
from farm.services.runs import run_transition
from farm.site_watch import (
    HEARTBEAT_WRITE_SECONDS,
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
from farm.statuses import RunStatus, check_run_transition

log = logging.getLogger(__name__)

UNKNOWN = "unknown"  # what pages show as the state of a printer on a site shown down


def site_add(*, name: str, slug: str, timezone_name: str = "UTC", location: str = "") -> Site:
    """A new site (validated as the admin form validates it). It is *not watched* until its
    fleet link first reports, so it is never taken for down before that."""
    site = Site(name=name, slug=slug, timezone=timezone_name, location=location)
    site.full_clean()
    site.save()
    return site


def site_heartbeat(*, site: str = "") -> int:
    """A fleet link watching `site` (its slug; "": every site) is alive. Returns rows written.

    Conditional: a row is written only when its heartbeat is older than half the write
    interval, so several shards of one site (or links calling too often) write it about once.
    """
    sites = Site.objects.filter(slug=site) if site else Site.objects.all()
    old = Now() - datetime.timedelta(seconds=HEARTBEAT_WRITE_SECONDS / 2)
    stale = Q(last_heartbeat_at__isnull=True) | Q(last_heartbeat_at__lt=old)
    return sites.filter(stale).update(last_heartbeat_at=Now())


class SiteHeartbeat:
    """The fleet link's `heartbeat`: called about once a second, it writes at most every
    HEARTBEAT_WRITE_SECONDS, and never raises (a database restart must not stop the polling;
    the next call tries again)."""

    def __init__(self, *, site: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.site = site
        self._clock = clock
        self._next = float("-inf")

    def __call__(self) -> None:
        now = self._clock()
        if now < self._next:
            return
        try:
            site_heartbeat(site=self.site)
        except Exception as exc:  # the database is unreachable: try again at the next call
            log.warning("site heartbeat (%s) not written: %s", self.site or "every site", exc)
            close_old_connections()
            return
        self._next = now + HEARTBEAT_WRITE_SECONDS


def database_now() -> datetime.datetime:
    """The database's clock: heartbeats are written in it, so they are compared with it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement_timestamp()")
            value: datetime.datetime = cursor.fetchone()[0]
            return value
    return timezone.now()  # SQLite is a file on this machine: its clock is ours


def site_watch(site: Site) -> SiteWatch:
    return SiteWatch(
        last_heartbeat_at=site.last_heartbeat_at,
        silent_since=site.silent_since,
        down_since=site.down_since,
        online=site.online,
    )


def grace() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.FARM_SITE_DOWN_GRACE_SECONDS)


@dataclass(frozen=True)
class SiteReport:
    """One site as pages show it."""

    site: Site
    condition: SiteCondition
    release_in_seconds: float | None  # a silent site's work moves to other sites in this

    @property
    def shown_down(self) -> bool:
        return self.condition.shown_down

    def describe(self) -> str:
        """Why the site is in its condition, in a sentence for pages and farm_status."""
        heard = self.site.last_heartbeat_at
        since = f"{heard:%Y-%m-%d %H:%M:%S} UTC" if heard else "-"
        if self.condition is SiteCondition.DOWN:
            return f"no heartbeat from its fleet link since {since}; its queued work moved to other sites"
        if self.condition is SiteCondition.SILENT:
            left = self.release_in_seconds or 0.0
            return (
                f"no heartbeat from its fleet link since {since}; its queued work moves to "
                f"other sites in {left:.0f} s unless it reports"
            )
        if self.condition is SiteCondition.NOT_WATCHED:
            return "no fleet link has reported for it yet"
        if self.condition is SiteCondition.OFFLINE:
            return "switched off by an administrator"
        return f"its fleet link reported at {since}"


def site_report(site: Site, *, now: datetime.datetime | None = None) -> SiteReport:
    now = now or database_now()
    watch = site_watch(site)
    left = release_in(watch, now=now, grace=grace())
    return SiteReport(
        site=site,
        condition=site_condition(watch, now=now),
        release_in_seconds=left.total_seconds() if left is not None else None,
    )


def sites_report(*, now: datetime.datetime | None = None) -> list[SiteReport]:
    now = now or database_now()
    return [site_report(site, now=now) for site in Site.objects.order_by("name")]


@dataclass
class SitesSwept:
    silent: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    up: list[str] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # run ids
    in_doubt: list[int] = field(default_factory=list)  # run ids


def sites_sweep(*, now: datetime.datetime | None = None) -> SitesSwept:
    """Apply the site rules to every site (a few dozen rows), then the run rules to down sites."""
    now = now or database_now()
    swept = SitesSwept()
    for site in Site.objects.all():
        verdict = site_verdict(site_watch(site), now=now, grace=grace())
        if verdict is SiteVerdict.SILENT and site_mark_silent(site=site, now=now):
            swept.silent.append(site.slug)
        elif verdict is SiteVerdict.HEARD_AGAIN:
            Site.objects.filter(pk=site.pk, down_since__isnull=True).update(silent_since=None)
        elif verdict is SiteVerdict.DOWN and site_mark_down(site=site, now=now):
            swept.down.append(site.slug)
        elif verdict is SiteVerdict.UP and site_mark_up(site=site):
            swept.up.append(site.slug)
    for site in Site.objects.filter(down_since__isnull=False):
        # Down means offline to the planner, whatever an admin form saved meanwhile (its
        # `online` read before the site went down); it is up again with its next heartbeat.
        Site.objects.filter(pk=site.pk, online=True).update(online=False)
        released, in_doubt = site_runs_release(site=site, now=now)
        swept.released += released
        swept.in_doubt += in_doubt
    return swept


def site_mark_silent(*, site: Site, now: datetime.datetime) -> bool:
    """The centre notices a stale heartbeat: the grace starts now (pages show it down)."""
    if not Site.objects.filter(pk=site.pk, silent_since__isnull=True).update(silent_since=now):
        return False
    log.warning(
        "site %s: no heartbeat from its fleet link since %s", site.slug, site.last_heartbeat_at
    )
    return True


def site_mark_down(*, site: Site, now: datetime.datetime) -> bool:
    """The site has been silent past the grace: the planner stops using its printers."""
    with transaction.atomic():
        marked = Site.objects.filter(pk=site.pk, down_since__isnull=True).update(
            online=False, down_since=now
        )
        if not marked:
            return False  # another sweep got there first
        heard = site.last_heartbeat_at
        # Marked down by hand (or by the twin) before its fleet link ever reported: say so.
        since = f"since {heard:%Y-%m-%d %H:%M:%S} UTC" if heard else "ever"
        message = (
            f"site {site.name} is down: no heartbeat from its fleet link {since}; its "
            "printers show unknown, its queued work moves to other sites"
        )
        event_record(EventKind.SITE_DOWN, message=message, site=site.slug)
        promises_disrupt_printers(
            reasons=dict.fromkeys(
                site.printers.values_list("pk", flat=True), f"site {site.name} down"
            )
        )
        enqueue_schedule_pass()
    log.warning("%s", message)
    return True


def site_mark_up(*, site: Site) -> bool:
    """A down site's fleet link reports again: its printers take work again."""
    with transaction.atomic():
        marked = Site.objects.filter(pk=site.pk, down_since__isnull=False).update(
            online=True, down_since=None, silent_since=None
        )
        if not marked:
            return False
        message = f"site {site.name} is up: its fleet link reports again"
        event_record(EventKind.SITE_UP, message=message, site=site.slug)
        enqueue_schedule_pass()
    log.warning("%s", message)
    return True


def _open_runs(site: Site) -> QuerySet[PrintRun]:
    statuses = (RunStatus.DISPATCHING, RunStatus.PRINTING, RunStatus.PAUSED)
    return PrintRun.objects.filter(printer__site=site, status__in=statuses)


def site_runs_release(*, site: Site, now: datetime.datetime) -> tuple[list[int], list[int]]:
    """The release rules (`farm.site_watch.run_on_down_site`) on a down site's open runs.

    Returns the ids of the runs released and of those now in doubt. Run again at every sweep
    while the site is down: a pass that read the site just before it went down may have
    started runs there since, and a dispatch alive when it went down may have ended since.
    """
    released: list[int] = []
    in_doubt: list[int] = []
    reason = f"site {site.name} is down: no heartbeat from its fleet link"
    for run in _open_runs(site):
        fate = run_on_down_site(
            RunOnSite(
                status=run.status,
                dispatch_claimed=bool(run.dispatch_holder) or run.dispatch_lease_until is not None,
                dispatch_lease_until=run.dispatch_lease_until,
            ),
            now=now,
        )
        if fate is RunFate.RELEASE and run_release(run_id=run.pk, reason=reason):
            released.append(run.pk)
        elif fate is RunFate.IN_DOUBT and _run_in_doubt(run, reason=reason, now=now):
            in_doubt.append(run.pk)
    return released, in_doubt


def run_release(*, run_id: int, reason: str) -> bool:
    """Give a run no dispatch ever took back to the queue; False when a dispatch took it first.

    The condition is the dispatch claim's, reversed (`farm.services.dispatch`): the claim
    needs the run dispatching and its lease untaken or lapsed, this needs it dispatching and
    its lease never taken. Both are one UPDATE of the run's row, so exactly one of them wins.
    """
    with transaction.atomic():
        run = PrintRun.objects.select_related("job").get(pk=run_id)
        # The job row first, as runs_create locks it: its waiting copies are counted under it.
        job = Job.objects.select_for_update().get(pk=run.job_id)
        never_taken = Q(dispatch_holder="", dispatch_lease_until__isnull=True)
        taken = PrintRun.objects.filter(never_taken, pk=run_id, status=RunStatus.DISPATCHING)
        check_run_transition(RunStatus.DISPATCHING, RunStatus.RELEASED)
        fields = {"ended_at": timezone.now(), "failure_reason": reason}
        if not taken.update(status=RunStatus.RELEASED, **fields):
            return False
        run.refresh_from_db()
        # Nothing reached the printer: its bed is as clear as it was.
        Printer.objects.filter(pk=run.printer_id, current_run=run).update(current_run=None)
        event_record(EventKind.RUN_RELEASED, run=run, message=reason)
        job_refresh_status(job=job)
        enqueue_schedule_pass()
    return True


def _run_in_doubt(run: PrintRun, *, reason: str, now: datetime.datetime) -> bool:
    if run.status in (RunStatus.PRINTING, RunStatus.PAUSED):
        run_mark_in_doubt(run_id=run.pk, reason=f"{reason}; the printer may still be printing")
        return True
    return run_dispatch_in_doubt(run_id=run.pk, reason=reason, now=now)


def run_dispatch_in_doubt(*, run_id: int, reason: str, now: datetime.datetime) -> bool:
    """A dispatch took the run and its lease lapsed while the site was down: the G-code may
    be on the printer, printing. False when a dispatch holds the lease again."""
    with transaction.atomic():
        lapsed = Q(dispatch_lease_until__lt=now)
        rows = PrintRun.objects.select_for_update().filter(
            lapsed, pk=run_id, status=RunStatus.DISPATCHING
        )
        run = rows.first()
        if run is None:
            return False
        run_transition(run, RunStatus.IN_DOUBT, in_doubt_since=timezone.now())
        event_record(
            EventKind.RUN_IN_DOUBT,
            run=run,
            message=f"{reason}; its dispatch may have reached the printer",
        )
    return True
