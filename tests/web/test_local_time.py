"""Each person's local time: the zone they choose (else their notification channels', else
the farm's) is the one pages show times in, with its name, and forms read dates in."""

from __future__ import annotations

import datetime
from typing import Any

from django.test import Client

from farm.local_time import user_zone_name
from farm.models import Job, NotificationChannel
from farm.services.profiles import profile_set_timezone
from tests.api.conftest import token_client


def test_a_person_without_a_zone_reads_the_farms(alice: Any, settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    assert user_zone_name(alice) == "UTC"


def test_the_zone_of_their_quiet_hours_is_theirs_until_they_choose_one(alice: Any) -> None:
    NotificationChannel.objects.create(
        user=alice, name="mail", url_encrypted="-", url_hint="mailto://…", timezone="Asia/Tokyo"
    )
    assert user_zone_name(alice) == "Asia/Tokyo"
    profile_set_timezone(user=alice, name="Europe/Berlin")
    assert user_zone_name(alice) == "Europe/Berlin"  # the cache forgot the old answer


def test_the_due_date_typed_is_read_in_the_persons_zone_and_shown_in_it(
    client: Client, alice: Any, pla: Any, cube_upload: Any
) -> None:
    profile_set_timezone(user=alice, name="Europe/Berlin")
    client.force_login(alice)
    form = client.get("/jobs/new/").content.decode()
    assert "Optional; your time (Europe/Berlin)." in form
    assert 'id="my-zone"' in form and ">Europe/Berlin</a>" in form
    data = {"material": pla.pk, "quantity": 1, "priority": 0, "file": cube_upload()}
    client.post("/jobs/new/", {**data, "due": "2026-12-10T14:00"})
    job = Job.objects.get()
    # 14:00 in Berlin in December is 13:00 UTC
    assert job.due == datetime.datetime(2026, 12, 10, 13, 0, tzinfo=datetime.UTC)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "due Thu 10 Dec 14:00 CET" in page


def test_someone_in_another_zone_sees_the_same_moment_in_theirs(
    client: Client, alice: Any, operator: Any, pla: Any, cube_upload: Any
) -> None:
    profile_set_timezone(user=alice, name="Europe/Berlin")
    profile_set_timezone(user=operator, name="America/New_York")
    client.force_login(alice)
    data = {"material": pla.pk, "quantity": 1, "priority": 0, "file": cube_upload()}
    client.post("/jobs/new/", {**data, "due": "2026-12-10T14:00"})
    client.force_login(operator)
    page = client.get(f"/jobs/{Job.objects.get().pk}/").content.decode()
    assert "due Thu 10 Dec 08:00 EST" in page


def test_a_person_chooses_their_zone_on_their_page(client: Client, alice: Any) -> None:
    client.force_login(alice)
    page = client.get("/me/time/").content.decode()
    assert '<option value="Europe/Berlin">' in page
    done = client.post("/me/time/", {"timezone": "Europe/Berlin"}, follow=True)
    assert "Times are now shown in Europe/Berlin." in done.content.decode()
    assert user_zone_name(alice) == "Europe/Berlin"
    refused = client.post("/me/time/", {"timezone": "Mars/Olympus"})
    assert "Select a valid choice" in refused.content.decode()
    client.post("/me/time/", {"timezone": ""})
    assert user_zone_name(alice) == "UTC"


def test_a_due_date_sent_through_the_api_without_an_offset_is_read_in_the_owners_zone(
    alice: Any, pla: Any, cube_upload: Any
) -> None:
    profile_set_timezone(user=alice, name="Europe/Berlin")
    data = {"file": cube_upload(), "material": pla.pk, "due": "2026-12-10T14:00"}
    response = token_client(alice).post("/api/v1/jobs/", data, format="multipart")
    assert response.status_code == 201, response.content
    assert Job.objects.get().due == datetime.datetime(2026, 12, 10, 13, 0, tzinfo=datetime.UTC)
    assert response.json()["due"] == "2026-12-10T14:00:00+01:00"
