"""Sites that fail over (farm.services.sites), on the database, one sweep at a time.

Two sites with simulated printers; the clock seam is the `now` each sweep is given (the
heartbeat itself is written in the database's own time).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from farm.models import Event, Job, Printer, PrintRun, Site
from farm.models.event import EventKind
from farm.services.dispatch import run_claim_dispatch, run_dispatch
from farm.services.fleet import fleet_link_build
from farm.services.incremental import printer_next_run
from farm.services.preparation import job_prepare
from farm.services.scheduling import StartOutcome, schedule_pass
from farm.services.sites import (
    SiteHeartbeat,
    database_now,
    run_release,
    site_heartbeat,
    site_mark_down,
    sites_report,
    sites_sweep,
)
from farm.services.status import farm_summary
from farm.services.submission import job_submit
from farm.site_watch import STALE, SiteCondition
from farm.statuses import JobStatus, RunStatus
from printers.models import SimulatedDevice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paris(db: Any) -> Site:
    return Site.objects.create(name="Paris", slug="paris")


def later(seconds: float) -> datetime.datetime:
    return database_now() + datetime.timedelta(seconds=seconds)


def heard(*sites: Site, seconds_ago: float = 0) -> None:
    at = database_now() - datetime.timedelta(seconds=seconds_ago)
    Site.objects.filter(pk__in=[s.pk for s in sites]).update(last_heartbeat_at=at)


def take_down(site: Site) -> datetime.datetime:
    """Silence the site, and sweep until it is down; returns the sweep time it went down."""
    heard(site, seconds_ago=STALE.total_seconds() + 1)
    noticed = later(0)
    assert sites_sweep(now=noticed).silent == [site.slug]
    down_at = noticed + datetime.timedelta(seconds=60)
    assert sites_sweep(now=down_at).down == [site.slug]
    return down_at


def test_a_heartbeat_is_written_in_the_database_and_at_most_every_few_seconds(
    site: Site, paris: Site
) -> None:
    assert site_heartbeat(site="berlin") == 1
    site.refresh_from_db()
    paris.refresh_from_db()
    assert site.last_heartbeat_at is not None and paris.last_heartbeat_at is None
    assert site_heartbeat(site="berlin") == 0  # written a moment ago: a second shard skips it
    assert site_heartbeat() == 1  # a link for every site covers Paris too
    paris.refresh_from_db()
    assert paris.last_heartbeat_at is not None


def test_the_links_heartbeat_calls_the_database_once_per_interval(site: Site) -> None:
    clock = [100.0]
    beat = SiteHeartbeat(site="berlin", clock=lambda: clock[0])
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):  # five passes in one second
            beat()
            clock[0] += 0.2
    assert len(queries) == 1
    clock[0] += 5
    with CaptureQueriesContext(connection) as queries:
        beat()
    assert len(queries) == 1


def test_the_links_heartbeat_survives_a_database_outage_and_retries_at_once(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    import farm.services.sites as sites

    def down(**_: Any) -> int:
        raise OperationalError("server closed the connection unexpectedly")

    beat = SiteHeartbeat(site="berlin", clock=lambda: 100.0)
    monkeypatch.setattr(sites, "site_heartbeat", down)
    beat()  # logged, not raised: the link's tick goes on
    monkeypatch.undo()
    beat()  # the same instant: not throttled, since nothing was written
    site.refresh_from_db()
    assert site.last_heartbeat_at is not None


def test_a_site_never_watched_is_not_down(site: Site, make_printer: Any) -> None:
    make_printer("b1")
    for hours in (1, 24 * 30):
        swept = sites_sweep(now=later(hours * 3600))
        assert not (swept.silent or swept.down)
    site.refresh_from_db()
    assert site.online and site.down_since is None
    assert sites_report()[0].condition is SiteCondition.NOT_WATCHED


def test_a_site_marked_down_before_it_was_ever_heard_says_so(site: Site) -> None:
    assert site.last_heartbeat_at is None
    assert site_mark_down(site=site, now=timezone.now())
    event = Event.objects.get(kind=EventKind.SITE_DOWN)
    assert "no heartbeat from its fleet link ever" in event.message


@pytest.fixture
def two_sites(site: Site, paris: Site, make_printer: Any) -> dict[str, Printer]:
    printers = {
        "b1": make_printer("b1", connection_settings={"speedup": 1}),
        "p1": make_printer("p1", site=paris, connection_settings={"speedup": 1}),
    }
    heard(site, paris)
    return printers


def card(page: str, printer: Printer) -> str:
    return page.split(f'id="printer-{printer.pk}"')[1].split("</div>")[0]


def submit(owner: User, pla: Any, cube_upload: Any, quantity: int) -> Job:
    job = job_submit(
        owner=owner, upload=cube_upload(), material=pla, quantity=quantity, colour="black"
    )
    job_prepare(job_id=job.pk)
    return job


def test_a_silent_site_is_shown_down_and_its_printers_unknown_at_once(
    two_sites: dict[str, Printer], site: Site, operator: User, client: Any
) -> None:
    heard(site, seconds_ago=STALE.total_seconds() + 1)
    by_slug = {r.site.slug: r for r in sites_report()}
    assert by_slug["berlin"].condition is SiteCondition.SILENT
    assert by_slug["paris"].condition is SiteCondition.UP
    assert farm_summary()["sites"]["berlin"]["condition"] == "silent"
    client.force_login(operator)
    page = client.get("/operator/").content.decode()
    assert "Berlin is down" in page and "moves to other sites in 60 s" in page
    assert "unknown" in card(page, two_sites["b1"])
    assert "unknown" not in card(page, two_sites["p1"])


def test_after_the_grace_its_queued_work_moves_to_the_other_site(
    two_sites: dict[str, Printer], site: Site, alice: User, pla: Any, cube_upload: Any
) -> None:
    b1, p1 = two_sites["b1"], two_sites["p1"]
    p1.state = "offline"  # Paris is busy for now: the job is planned onto Berlin
    p1.save()
    job = submit(alice, pla, cube_upload, quantity=1)
    schedule_pass()
    run = PrintRun.objects.get()
    assert run.printer == b1 and run.status == RunStatus.DISPATCHING  # Berlin's worker is gone

    take_down(site)
    run.refresh_from_db()
    assert run.status == RunStatus.RELEASED and "Berlin is down" in run.failure_reason
    b1.refresh_from_db()
    assert b1.current_run is None and b1.bed_clear
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {EventKind.SITE_DOWN, EventKind.RUN_RELEASED} <= kinds
    assert Site.objects.get(pk=site.pk).online is False
    assert farm_summary()["sites"]["berlin"]["condition"] == "down"

    Printer.objects.filter(pk=p1.pk).update(state="ready")
    schedule_pass()
    moved = PrintRun.objects.exclude(pk=run.pk).get()
    assert moved.printer_id == p1.pk
    # Berlin's dispatch arrives at last (its worker is back): it finds nothing to do.
    run_dispatch(run_id=run.pk)
    assert not SimulatedDevice.objects.filter(device_id=b1.device_id, job_name=run.job_name)
    assert PrintRun.objects.get(pk=run.pk).status == RunStatus.RELEASED
    # And a printer of a down site gets no work of its own accord either.
    assert printer_next_run(printer_id=b1.pk) == StartOutcome.NOT_STARTED


def test_a_dispatch_that_took_the_run_first_is_not_released(
    two_sites: dict[str, Printer], alice: User, pla: Any, cube_upload: Any
) -> None:
    for _ in range(2):
        submit(alice, pla, cube_upload, quantity=1)
    schedule_pass()
    run = PrintRun.objects.get(printer=two_sites["b1"])
    assert run_claim_dispatch(run_id=run.pk, holder="task-1")
    assert run_release(run_id=run.pk, reason="site down") is False
    assert PrintRun.objects.get(pk=run.pk).status == RunStatus.DISPATCHING
    # The other way round: released first, a dispatch cannot take it.
    other = PrintRun.objects.get(printer=two_sites["p1"])
    assert run_release(run_id=other.pk, reason="site down") is True
    assert run_claim_dispatch(run_id=other.pk, holder="task-2") is False


def test_runs_that_may_be_on_the_printer_go_in_doubt_not_to_other_printers(
    two_sites: dict[str, Printer],
    site: Site,
    alice: User,
    pla: Any,
    cube_upload: Any,
    make_printer: Any,
) -> None:
    b2 = make_printer("b2", connection_settings={"speedup": 1})
    b3 = make_printer("b3", connection_settings={"speedup": 1})
    Printer.objects.filter(pk=two_sites["p1"].pk).update(state="offline")
    for _ in range(3):  # one copy each: a quantity of 3 would be one plate of three
        submit(alice, pla, cube_upload, quantity=1)
    schedule_pass()
    printing = PrintRun.objects.get(printer=two_sites["b1"])
    run_dispatch(run_id=printing.pk)  # Berlin's worker started this one
    lapsed = PrintRun.objects.get(printer=b2)
    # A dispatch took this one and died without renewing its lease.
    assert run_claim_dispatch(run_id=lapsed.pk, holder="died")
    PrintRun.objects.filter(pk=lapsed.pk).update(
        dispatch_lease_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    live = PrintRun.objects.get(printer=b3)
    assert run_claim_dispatch(run_id=live.pk, holder="alive")
    PrintRun.objects.filter(pk=live.pk).update(
        dispatch_lease_until=timezone.now() + datetime.timedelta(hours=1)
    )

    down_at = take_down(site)
    statuses = dict(PrintRun.objects.values_list("pk", "status"))
    assert statuses[printing.pk] == RunStatus.IN_DOUBT
    assert statuses[lapsed.pk] == RunStatus.IN_DOUBT
    assert statuses[live.pk] == RunStatus.DISPATCHING  # its dispatch says how it ends
    assert not PrintRun.objects.filter(status=RunStatus.FAILED).exists()
    # The copies in doubt are not given to Paris, even once it is free.
    Printer.objects.filter(pk=two_sites["p1"].pk).update(state="ready")
    schedule_pass()
    assert not PrintRun.objects.filter(printer=two_sites["p1"]).exists()

    # The live dispatch ends later: printing on a down site, so in doubt at the next sweep.
    PrintRun.objects.filter(pk=live.pk).update(status=RunStatus.PRINTING)
    swept = sites_sweep(now=down_at + datetime.timedelta(seconds=10))
    assert swept.in_doubt == [live.pk]


def test_when_the_site_comes_back_its_runs_in_doubt_are_what_its_printers_say(
    two_sites: dict[str, Printer], site: Site, alice: User, pla: Any, cube_upload: Any
) -> None:
    b1 = two_sites["b1"]
    Printer.objects.filter(pk=two_sites["p1"].pk).update(state="offline")
    job = submit(alice, pla, cube_upload, quantity=1)
    schedule_pass()
    run = PrintRun.objects.get()
    run_dispatch(run_id=run.pk)
    fleet_link_build(site="berlin", threads=1).run_once()
    take_down(site)
    assert PrintRun.objects.get(pk=run.pk).status == RunStatus.IN_DOUBT
    # The printer went on by itself and finished while nobody watched.
    SimulatedDevice.objects.filter(device_id=b1.device_id).update(
        started_at=timezone.now() - datetime.timedelta(hours=2)
    )

    heard(site)
    assert sites_sweep(now=later(1)).up == ["berlin"]
    site.refresh_from_db()
    assert site.online and site.down_since is None and site.silent_since is None
    fleet_link_build(site="berlin", threads=1).run_once()
    run.refresh_from_db()
    assert run.status == RunStatus.AWAITING_REMOVAL
    assert PrintRun.objects.filter(job=job).count() == 1
    assert Event.objects.filter(kind=EventKind.RUN_FINISHED).count() == 1
    assert Event.objects.filter(kind=EventKind.SITE_UP).count() == 1


def test_a_down_site_stays_offline_to_the_planner_whatever_a_form_saved(
    two_sites: dict[str, Printer], site: Site
) -> None:
    down_at = take_down(site)
    Site.objects.filter(pk=site.pk).update(online=True)  # an admin form read before it went down
    sites_sweep(now=down_at + datetime.timedelta(seconds=10))
    assert Site.objects.get(pk=site.pk).online is False


def test_the_admin_site_list_says_which_sites_are_down(
    two_sites: dict[str, Printer], site: Site, admin_user: User, client: Any
) -> None:
    take_down(site)
    client.force_login(admin_user)
    page = client.get("/admin/farm/site/").content.decode()
    assert "down: no heartbeat from its fleet link since" in page
    assert "up: its fleet link reported at" in page or "silent: no heartbeat" in page


def test_add_site_adds_a_site_that_is_not_watched_yet(db: Any) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "add_site", "--name", "Lyon", "--slug", "lyon", "--timezone", "Europe/Paris", stdout=out
    )
    assert "site Lyon added" in out.getvalue()
    assert sites_report()[0].condition is SiteCondition.NOT_WATCHED
    with pytest.raises(CommandError, match="timezone"):
        call_command("add_site", "--name", "Mars", "--slug", "mars", "--timezone", "Mars/Olympus")
