"""Promises in the farm (farm.services.promises): quotes with their margin, held through
reshuffles, moved with a reason when the farm changes, shown on the job's page and API."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from farm.models import Job, Printer, PrintRun, PromiseChange, Site
from farm.services.doubt import run_mark_in_doubt
from farm.services.jobs import job_confirm
from farm.services.printer_actions import printers_set_service
from farm.services.runs import run_fail, run_start
from farm.services.scheduling import MAX_QUOTES_PER_PASS, schedule_pass
from farm.services.sites import site_mark_down
from farm.statuses import JobStatus
from tests.farm.promise_helpers import REAL_TIME, confirmed, later, prepared, printing


def test_the_quote_includes_the_margin_and_confirming_keeps_it(
    alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1", connection_settings=REAL_TIME)
    job = prepared(alice, pla, cube_upload(), confirm_required=True)
    schedule_pass()
    job.refresh_from_db()
    assert job.planned_end is not None and job.promised_end is not None
    assert job.promised_end > job.planned_end  # the margin for print-time error and failures
    assert job.promise_confidence is not None and 0 < job.promise_confidence <= 0.9
    quoted = job.promised_end
    job_confirm(job=job, actor=alice)
    schedule_pass()
    job.refresh_from_db()
    assert job.status == JobStatus.PRINTING
    assert job.promised_end == quoted
    assert [c.reason for c in job.promise_changes.all()] == ["confirmed as quoted"]


def test_every_waiting_job_is_quoted_within_two_passes(
    alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1")
    jobs = [
        prepared(alice, pla, cube_upload(), confirm_required=True)
        for _ in range(MAX_QUOTES_PER_PASS + 1)
    ]
    schedule_pass()
    quoted = Job.objects.filter(pk__in=[j.pk for j in jobs]).exclude(quoted_at=None)
    assert quoted.count() == MAX_QUOTES_PER_PASS
    schedule_pass()
    assert not Job.objects.filter(pk__in=[j.pk for j in jobs], quoted_at=None).exists()


def test_a_job_that_needs_no_confirmation_is_promised_by_the_first_pass(
    alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1", connection_settings=REAL_TIME)
    job = prepared(alice, pla, cube_upload())
    schedule_pass()
    job.refresh_from_db()
    assert job.promised_end is not None and job.promised_end >= job.planned_end  # type: ignore[operator]
    assert [c.reason for c in job.promise_changes.all()] == ["first promise"]


def test_a_reshuffle_does_not_move_a_promise(
    alice: User, bob: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1", connection_settings=REAL_TIME, bed_clear=False)  # planned, not started
    job = confirmed(alice, pla, cube_upload())
    schedule_pass()
    later(job, 3600)  # the plan now ends an hour after the promise...
    job.refresh_from_db()
    promised = job.promised_end
    rush = prepared(bob, pla, cube_upload(), priority=2)  # ...and more work jumps ahead
    schedule_pass()
    job.refresh_from_db()
    assert rush.pk != job.pk
    assert job.planned_end is not None and promised is not None and job.planned_end > promised
    assert job.promised_end == promised  # but nothing in the farm changed
    assert job.promise_changes.count() == 1


def test_a_failed_run_that_makes_the_plan_later_moves_the_promise_and_says_why(
    alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    job = printing(alice, pla, cube_upload(), make_printer)
    run = PrintRun.objects.get(job=job)
    later(job, 3600)
    job.refresh_from_db()
    before = job.promised_end
    run_fail(run_id=run.pk, reason="spaghetti")
    Printer.objects.filter(pk=run.printer_id).update(bed_clear=True, current_run=None)
    schedule_pass()
    job.refresh_from_db()
    assert before is not None and job.promised_end is not None and job.promised_end > before
    assert job.planned_end is not None and job.promised_end >= job.planned_end
    change = job.promise_changes.last()
    assert change is not None
    assert (change.old, change.new, change.reason) == (before, job.promised_end, "run failed on p1")
    assert job.promise_disruption == ""  # applied


def test_a_failure_the_plan_absorbs_keeps_the_promise(
    alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    job = printing(alice, pla, cube_upload(), make_printer)
    Job.objects.filter(pk=job.pk).update(promised_end=timezone.now() + datetime.timedelta(days=3))
    job.refresh_from_db()
    before = job.promised_end
    run_fail(run_id=PrintRun.objects.get(job=job).pk, reason="spaghetti")
    schedule_pass()
    job.refresh_from_db()
    assert job.promised_end == before and job.promise_disruption == ""


def test_a_printer_out_of_service_and_a_site_down_are_changes_of_the_farm(
    alice: User, operator: User, pla: Any, cube_upload: Any, make_printer: Any, site: Site
) -> None:
    p1 = make_printer("p1", connection_settings=REAL_TIME, bed_clear=False)
    job = confirmed(alice, pla, cube_upload())
    schedule_pass()  # planned on p1 (the last plan)
    printers_set_service(printer_ids=[p1.pk], in_service=False, actor=operator)
    job.refresh_from_db()
    assert job.promise_disruption == "p1 out of service"
    Job.objects.filter(pk=job.pk).update(promise_disruption="", promise_disrupted_at=None)
    site.last_heartbeat_at = timezone.now() - datetime.timedelta(hours=1)
    site_mark_down(site=site, now=timezone.now())
    job.refresh_from_db()
    assert job.promise_disruption == f"site {site.name} down"


def test_the_job_page_shows_the_promise_its_confidence_and_every_change(
    client: Client, alice: User, pla: Any, cube_upload: Any, make_printer: Any, site: Site
) -> None:
    Site.objects.filter(pk=site.pk).update(timezone="Europe/Paris")
    job = printing(alice, pla, cube_upload(), make_printer)
    later(job, 3600)
    run_fail(run_id=PrintRun.objects.get(job=job).pk, reason="spaghetti")
    schedule_pass()
    job.refresh_from_db()
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    paris = job.promised_end.astimezone(datetime.timezone(datetime.timedelta(hours=1)))  # type: ignore[union-attr]
    assert f"done by {paris:%A} {paris.day} {paris:%b %H:%M}" in page
    assert "Europe/Paris" in page
    assert "in 10 jobs like this finish earlier" in page
    assert "confirmed as quoted" in page and "run failed on p1" in page


def test_the_api_shows_the_promise_and_its_changes_read_only(
    client: Client, alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    make_printer("p1", connection_settings=REAL_TIME)
    job = confirmed(alice, pla, cube_upload())
    client.force_login(alice)
    data = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert data["promised_end"] is not None
    assert [c["reason"] for c in data["promise_changes"]] == ["confirmed as quoted"]
    assert PromiseChange.objects.filter(job=job).count() == 1


def test_a_printer_that_goes_offline_past_the_grace_is_a_change_of_the_farm(
    alice: User, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    job = printing(alice, pla, cube_upload(), make_printer)
    run = PrintRun.objects.get(job=job)
    run_start(run_id=run.pk)
    run_mark_in_doubt(run_id=run.pk, reason="no answer")
    job.refresh_from_db()
    assert job.promise_disruption == "p1 went offline"
