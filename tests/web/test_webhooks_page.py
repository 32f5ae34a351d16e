"""/manage/webhooks/: managers add, turn off and re-key webhook endpoints and see their
recent deliveries; the signing secret is shown once. Deliveries go to a real HTTP server on
127.0.0.1 (tests.farm.test_webhooks.Receiver)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from farm.models import WebhookDelivery, WebhookEndpoint
from farm.models.event import EventKind
from farm.roles import MANAGER
from farm.services.events import event_record
from farm.services.submission import job_submit
from farm.services.webhooks import webhooks_from_events, webhooks_send
from farm.webhooks import SIGNATURE_HEADER, signature_valid
from printers.secrets import decrypt
from tests.farm.test_webhooks import Receiver


@pytest.fixture
def manager(db: Any) -> User:
    user = User.objects.create_user(username="mona", password="pw-mona")
    user.groups.add(Group.objects.get_or_create(name=MANAGER)[0])
    return user


def shown_secret(page: str) -> str:
    found = re.search(r'id="secret-key" readonly value="([^"]+)"', page)
    assert found, "the secret is on the page"
    return found.group(1)


def test_a_manager_adds_an_endpoint_sees_its_secret_once_and_its_signed_deliveries(
    client: Client, manager: User, alice: User, pla: Any, cube_upload: Any, receiver: Receiver
) -> None:
    client.force_login(manager)
    made = client.post("/manage/webhooks/", {"name": "ERP", "url": receiver.url})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    secret = shown_secret(made.content.decode())
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.owner, endpoint.events, decrypt(endpoint.secret_encrypted)) == (
        manager,
        [],
        secret,
    )

    # A manager's endpoint gets every job's events, not only the manager's own.
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    event_record(EventKind.JOB_DONE, job=job, message="all printed")
    webhooks_from_events()
    assert webhooks_send() == 2  # job.submitted, job.done
    done = receiver.received[-1]
    assert signature_valid(secret, done["body"], done["headers"][SIGNATURE_HEADER])

    page = client.get("/manage/webhooks/").content.decode()
    assert secret not in page
    assert "in-the-query" not in page and "/hook" not in page  # the host only
    assert "127.0.0.1" in page
    assert "job.done" in page and "HTTP 204" in page  # the recent deliveries


def test_only_some_events_and_a_bad_url_is_refused(client: Client, manager: User) -> None:
    client.force_login(manager)
    client.post(
        "/manage/webhooks/",
        {"name": "done only", "url": "https://erp.example/hook", "events": ["job.done"]},
    )
    assert WebhookEndpoint.objects.get().events == ["job.done"]
    refused = client.post("/manage/webhooks/", {"name": "x", "url": "ftp://erp.example/"})
    assert refused.status_code == 200 and 'id="secret-key"' not in refused.content.decode()
    assert "Enter a valid URL." in refused.content.decode()
    unknown = client.post(
        "/manage/webhooks/", {"name": "x", "url": "https://a.example/", "events": ["site.down"]}
    )
    assert "not one of the available choices" in unknown.content.decode()
    assert WebhookEndpoint.objects.count() == 1


def test_an_endpoint_turned_off_gets_nothing_until_turned_on(
    client: Client, manager: User, alice: User, pla: Any, cube_upload: Any, receiver: Receiver
) -> None:
    client.force_login(manager)
    client.post("/manage/webhooks/", {"name": "ERP", "url": receiver.url})
    endpoint = WebhookEndpoint.objects.get()
    assert client.post(f"/manage/webhooks/{endpoint.pk}/disable/").status_code == 302
    job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    webhooks_from_events()
    assert webhooks_send() == 0 and WebhookDelivery.objects.count() == 0
    assert "Turn on" in client.get("/manage/webhooks/").content.decode()
    client.post(f"/manage/webhooks/{endpoint.pk}/enable/")
    assert WebhookEndpoint.objects.get().enabled


def test_a_new_secret_is_shown_once_and_the_old_one_stops_signing(
    client: Client, manager: User, alice: User, pla: Any, cube_upload: Any, receiver: Receiver
) -> None:
    client.force_login(manager)
    old = shown_secret(
        client.post("/manage/webhooks/", {"name": "ERP", "url": receiver.url}).content.decode()
    )
    endpoint = WebhookEndpoint.objects.get()
    new = shown_secret(client.post(f"/manage/webhooks/{endpoint.pk}/secret/").content.decode())
    assert new != old
    job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    webhooks_from_events()
    webhooks_send()
    sent = receiver.received[-1]
    assert signature_valid(new, sent["body"], sent["headers"][SIGNATURE_HEADER])
    assert not signature_valid(old, sent["body"], sent["headers"][SIGNATURE_HEADER])


def test_operators_and_employees_are_not_managers(
    client: Client, operator: User, alice: User, manager: User
) -> None:
    for user in (operator, alice):
        client.force_login(user)
        assert client.get("/manage/webhooks/").status_code == 403
        assert 'href="/manage/webhooks/"' not in client.get("/jobs/").content.decode()
    client.force_login(manager)
    assert 'href="/manage/webhooks/"' in client.get("/jobs/").content.decode()
    assert client.get("/operator/").status_code == 403  # not an operator for being a manager
