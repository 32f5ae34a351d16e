"""Signed webhooks, against a real HTTP server on 127.0.0.1: each job or printer event goes to
the endpoints that may see it, signed with HMAC-SHA256 over the body; a failing receiver is
retried later, a gone one turned off, and nothing is sent twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from farm.models import WebhookDelivery, WebhookEndpoint
from farm.models.event import EventKind
from farm.services.events import event_record
from farm.services.submission import job_submit
from farm.services.webhooks import (
    EVENTS_CURSOR,
    MAX_ATTEMPTS,
    webhook_create,
    webhooks_from_events,
    webhooks_send,
)
from farm.webhooks import SIGNATURE_HEADER, signature, signature_valid
from printers.secrets import decrypt


class Receiver:
    """An HTTP server that records each POST and answers with the next status it is given."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=in-the-query"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    cache.set(EVENTS_CURSOR, 0, timeout=None)  # every event of the test
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def job(alice: Any, pla: Any, cube_upload: Any) -> Any:
    return job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=2)


def test_a_job_event_arrives_signed_with_the_endpoints_secret(
    receiver: Receiver, alice: Any, job: Any
) -> None:
    _, secret = webhook_create(owner=alice, name="ERP", url=receiver.url)
    event_record(EventKind.JOB_DONE, job=job, message="all printed")
    webhooks_from_events()
    assert webhooks_send() == 2  # job.submitted, job.done
    done = receiver.received[-1]
    assert done["headers"]["X-Farm-Event"] == "job.done"
    assert done["headers"]["Content-Type"] == "application/json"
    assert signature_valid(secret, done["body"], done["headers"][SIGNATURE_HEADER])
    assert not signature_valid("another secret", done["body"], done["headers"][SIGNATURE_HEADER])
    payload = json.loads(done["body"])
    assert payload["event"]["kind"] == "job.done"
    assert payload["job"] == {
        "id": job.pk,
        "name": "cube.stl",
        "owner": "alice",
        "status": "submitted",
        "quantity": 2,
        "planned_end": None,
    }


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    # RFC 4231 test case 2
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_someone_elses_job_and_the_printers_go_to_operators_only(
    receiver: Receiver, bob: Any, operator: Any, job: Any, make_printer: Any
) -> None:
    webhook_create(owner=bob, name="bob's", url=receiver.url + "&who=bob")
    webhook_create(owner=operator, name="floor", url=receiver.url + "&who=operator")
    printer = make_printer("p1")
    event_record(EventKind.PRINTER_STATE, printer=printer, message="error", new="error")
    webhooks_from_events()
    webhooks_send()
    assert len(receiver.received) == 2  # job.submitted and printer.state: the operator's
    assert {b["event"]["kind"] for b in receiver.bodies()} == {"job.submitted", "printer.state"}
    assert WebhookDelivery.objects.filter(endpoint__owner=bob).count() == 0
    printer_body = next(b for b in receiver.bodies() if b["printer"])
    assert printer_body["printer"] == {"id": printer.pk, "name": "p1", "site": "berlin"}


def test_an_endpoint_gets_only_the_kinds_it_asked_for(
    receiver: Receiver, alice: Any, job: Any
) -> None:
    webhook_create(owner=alice, name="done only", url=receiver.url, events=["job.done"])
    event_record(EventKind.JOB_DONE, job=job)
    webhooks_from_events()
    webhooks_send()
    assert [b["event"]["kind"] for b in receiver.bodies()] == ["job.done"]
    with pytest.raises(ValidationError):
        webhook_create(owner=alice, name="x", url=receiver.url, events=["site.down"])


def test_a_failing_receiver_is_tried_again_later_and_once_it_answers_no_more(
    receiver: Receiver, alice: Any, job: Any
) -> None:
    endpoint, _ = webhook_create(owner=alice, name="ERP", url=receiver.url)
    receiver.statuses = [503]
    webhooks_from_events()
    assert webhooks_send() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.status_code, delivery.sent_at) == (1, 503, None)
    endpoint.refresh_from_db()
    assert endpoint.last_error == "HTTP 503 from 127.0.0.1 (attempt 1 of 6)"
    assert "in-the-query" not in endpoint.last_error
    assert webhooks_send() == 0  # not before its time
    WebhookDelivery.objects.update(send_after=delivery.created_at)
    assert webhooks_send() == 1
    assert webhooks_from_events() == 0 and webhooks_send() == 0
    assert len(receiver.received) == 2  # the failed try and the good one
    # the retry is the same delivery: same id, same body, same signature
    first, second = receiver.received
    assert first["body"] == second["body"]
    assert first["headers"]["X-Farm-Delivery"] == second["headers"]["X-Farm-Delivery"]


def test_a_gone_receiver_is_turned_off_and_a_refusal_not_retried(
    receiver: Receiver, alice: Any, job: Any
) -> None:
    endpoint, _ = webhook_create(owner=alice, name="ERP", url=receiver.url)
    receiver.statuses = [400]
    webhooks_from_events()
    webhooks_send()
    assert WebhookDelivery.objects.get().attempts == MAX_ATTEMPTS
    event_record(EventKind.JOB_DONE, job=job)
    receiver.statuses = [410]
    webhooks_from_events()
    webhooks_send()
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "turned off" in endpoint.last_error


def test_a_receiver_nobody_answers_at_costs_one_try_per_pass(alice: Any, job: Any) -> None:
    cache.set(EVENTS_CURSOR, 0, timeout=None)
    event_record(EventKind.JOB_DONE, job=job)
    # a port nothing listens on: connection refused
    webhook_create(owner=alice, name="dead", url="http://127.0.0.1:9/hook")
    webhooks_from_events()
    assert webhooks_send() == 0
    attempts = sorted(WebhookDelivery.objects.values_list("attempts", flat=True))
    assert attempts == [0, 1]
    assert WebhookEndpoint.objects.get().last_error.startswith("ConnectError from 127.0.0.1")


def test_an_admin_makes_an_endpoint_and_sees_its_secret_once(
    client: Any, admin_user: Any, operator: Any
) -> None:
    client.force_login(admin_user)
    form = {"owner": operator.pk, "name": "ERP", "url": "https://erp.example/hook", "events": "[]"}
    form["enabled"] = "on"
    page = client.post("/admin/farm/webhookendpoint/add/", form, follow=True).content.decode()
    endpoint = WebhookEndpoint.objects.get()
    secret = decrypt(endpoint.secret_encrypted)
    assert f"shown this once: {secret} ." in page
    listing = client.get("/admin/farm/webhookendpoint/").content.decode()
    assert secret not in listing and "erp.example" in listing
