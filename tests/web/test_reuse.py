"""Follow and reuse: print a past job again (the page's button and the API's action), and
the pick-up place of a finished job on its page and in its done message."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from farm.models import Event, Job, Material, Site
from farm.models.event import EventKind
from farm.models.job import Supports
from farm.services.notifications import _event_message
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from tests.api.conftest import token_client
from tests.farm.records_helpers import ended_run, queued_job


def past_job(owner: User, material: Material, cube_upload: Any, site: Site) -> Job:
    job = job_submit(
        owner=owner,
        upload=cube_upload("bracket.stl"),
        material=material,
        quantity=3,
        colour="red",
        priority=1,
        notes="for line 4",
        site=site,
        supports=Supports.OFF,
        due=timezone.now() + datetime.timedelta(days=3),
    )
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def test_print_again_makes_a_new_job_of_the_same_file_and_settings_that_waits_for_a_quote(
    client: Client, alice: User, pla: Material, cube_upload: Any, site: Site, make_printer: Any
) -> None:
    make_printer("berlin-01")
    old = past_job(alice, pla, cube_upload, site)
    client.force_login(alice)
    page = client.get(f"/jobs/{old.pk}/").content.decode()
    assert f'action="/jobs/{old.pk}/again/"' in page

    answer = client.post(f"/jobs/{old.pk}/again/")
    new = Job.objects.exclude(pk=old.pk).get()
    assert answer["Location"] == f"/jobs/{new.pk}/"
    same = ("name", "quantity", "colour", "priority", "notes", "supports", "file_sha256")
    assert [getattr(new, f) for f in same] == [getattr(old, f) for f in same]
    assert (new.owner, new.material, new.site, new.due) == (alice, pla, site, old.due)
    assert new.file.name != old.file.name and new.file.read() == old.file.read()
    assert (new.status, new.confirm_required) == (JobStatus.SUBMITTED, True)
    submitted = Event.objects.get(job=new, kind=EventKind.JOB_SUBMITTED)
    assert submitted.message == f"printed again from job #{old.pk}"
    assert submitted.data["again_from"] == old.pk

    job_prepare(job_id=new.pk)  # the slicing worker, as for any submission
    assert Job.objects.get(pk=new.pk).status == JobStatus.QUOTED  # its owner confirms first
    assert f"printed again from job #{old.pk}" in client.get(f"/jobs/{new.pk}/").content.decode()


def test_a_due_date_already_past_is_left_out(alice: User, pla: Material, cube_upload: Any) -> None:
    old = job_submit(
        owner=alice,
        upload=cube_upload(),
        material=pla,
        quantity=1,
        due=timezone.now() + datetime.timedelta(hours=1),
    )
    Job.objects.filter(pk=old.pk).update(due=timezone.now() - datetime.timedelta(days=1))
    answer = token_client(alice).post(f"/api/v1/jobs/{old.pk}/again/")
    assert answer.status_code == 201, answer.content
    assert answer.json()["due"] is None and answer.json()["confirm_required"] is True


def test_only_the_owner_prints_a_job_again(
    client: Client, alice: User, bob: User, operator: User, pla: Material, cube_upload: Any
) -> None:
    old = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    client.force_login(operator)
    assert (
        'action="/jobs/' + str(old.pk) + '/again/"'
        not in client.get(f"/jobs/{old.pk}/").content.decode()
    )
    assert client.post(f"/jobs/{old.pk}/again/").status_code == 403
    assert token_client(operator).post(f"/api/v1/jobs/{old.pk}/again/").status_code == 403
    assert token_client(bob).post(f"/api/v1/jobs/{old.pk}/again/").status_code == 404
    assert Job.objects.count() == 1


def test_a_job_whose_file_is_gone_says_so_and_makes_nothing(
    client: Client, alice: User, pla: Material, cube_upload: Any
) -> None:
    old = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    old.file.storage.delete(old.file.name)  # as the retention clean-up does
    client.force_login(alice)
    answer = client.post(f"/jobs/{old.pk}/again/", follow=True)
    assert "no longer kept" in answer.content.decode()
    refused = token_client(alice).post(f"/api/v1/jobs/{old.pk}/again/")
    assert refused.status_code == 409 and "no longer kept" in refused.json()["detail"]
    assert Job.objects.count() == 1


def test_a_done_job_says_where_to_pick_it_up_on_its_page_and_in_its_message(
    client: Client, alice: User, pla: Material, site: Site, make_printer: Any
) -> None:
    Site.objects.filter(pk=site.pk).update(pickup_location="Shelf B, building 4 reception")
    job = queued_job(alice, pla, quantity=1)
    client.force_login(alice)
    assert "Pick it up at" not in client.get(f"/jobs/{job.pk}/").content.decode()
    ended_run(job, make_printer("berlin-01"))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE

    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Shelf B, building 4 reception (Berlin)" in page
    done = Event.objects.filter(job=job, kind=EventKind.JOB_DONE).select_related("job").get()
    made = _event_message(done)
    assert made is not None
    assert made[0].body.endswith("Pick it up at: Shelf B, building 4 reception (Berlin).")


def test_a_site_without_a_pickup_place_says_nothing_of_it(
    alice: User, pla: Material, make_printer: Any
) -> None:
    job = queued_job(alice, pla, quantity=1)
    ended_run(job, make_printer("berlin-01"))
    done = Event.objects.filter(job=job, kind=EventKind.JOB_DONE).select_related("job").get()
    made = _event_message(done)
    assert made is not None and "Pick it up" not in made[0].body
    assert made[0].body == "All 1 copies of cube.stl are printed and off the bed."
