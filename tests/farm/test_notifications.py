"""Notifications: channels keep their URL secret, messages are written once per key, held
over quiet hours, and sent by Apprise to a real local HTTP server (its json:// webhook)."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from farm.models import Event, Notification, NotificationChannel, NotifyEvent
from farm.models.event import EventKind
from farm.records_rules import in_quiet_hours, quiet_hours_end, url_hint
from farm.services.events import event_record
from farm.services.notifications import (
    Message,
    channel_save,
    notifications_from_events,
    notifications_send,
    notify,
)


class Receiver:
    """A local webhook: records every JSON body POSTed to it; answers `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                owner.bodies.append(json.loads(self.rfile.read(length)))
                owner.paths.append(self.path)
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hooks/s3cr3t-token"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def channel(user: Any, url: str, events: list[str], **kw: Any) -> NotificationChannel:
    return channel_save(user=user, name="hook", url=url, events=events, **kw)


def test_a_channel_url_is_kept_encrypted_and_shown_by_its_host_only(
    operator: Any, receiver: Receiver
) -> None:
    c = channel(operator, receiver.url, [NotifyEvent.LOW_STOCK])
    assert "s3cr3t" not in c.url_encrypted and "s3cr3t" not in c.url_hint
    assert c.url_hint == "json://127.0.0.1/…"
    assert "s3cr3t" not in str(c)
    with pytest.raises(ValidationError):
        channel(operator, "nosuchscheme://x", [NotifyEvent.LOW_STOCK])
    with pytest.raises(ValidationError):
        channel(operator, receiver.url, ["everything"])


def test_a_message_is_sent_once_to_the_webhook(operator: Any, receiver: Receiver) -> None:
    channel(operator, receiver.url, [NotifyEvent.LOW_STOCK])
    message = Message(NotifyEvent.LOW_STOCK, "Low stock: PLA black", "300 g left", "k1")
    assert notify([message]) == 1
    assert notify([message]) == 0  # the same key again: nothing new
    assert notifications_send() == 1
    assert receiver.bodies[0]["title"] == "Low stock: PLA black"
    assert receiver.bodies[0]["message"] == "300 g left"
    assert receiver.paths == ["/hooks/s3cr3t-token"]
    assert notifications_send() == 0
    assert Notification.objects.get().sent_at is not None


def test_only_channels_that_chose_the_event_get_it(
    operator: Any, alice: Any, receiver: Receiver
) -> None:
    channel(operator, receiver.url, [NotifyEvent.SITE_DOWN])
    channel(alice, receiver.url, [NotifyEvent.LOW_STOCK])  # an employee: farm events are not hers
    assert notify([Message(NotifyEvent.LOW_STOCK, "t", "b", "k")]) == 0


def test_quiet_hours_hold_a_message_until_they_end(operator: Any, receiver: Receiver) -> None:
    now = timezone.now().astimezone(datetime.UTC)
    start, end = now.hour, (now.hour + 2) % 24  # quiet now, for two hours
    channel(
        operator,
        receiver.url,
        [NotifyEvent.LOW_STOCK],
        quiet_from_hour=start,
        quiet_until_hour=end,
        tz="UTC",
    )
    notify([Message(NotifyEvent.LOW_STOCK, "t", "b", "k")])
    assert notifications_send() == 0
    held = Notification.objects.get()
    assert held.send_after > now + datetime.timedelta(minutes=59)
    Notification.objects.update(send_after=now)  # quiet hours over
    assert notifications_send() == 1


@pytest.mark.parametrize(
    ("hour", "start", "end", "quiet"),
    [(23, 22, 7, True), (3, 22, 7, True), (7, 22, 7, False), (12, 9, 17, True), (8, 9, 17, False)],
)
def test_quiet_hours_may_run_past_midnight(hour: int, start: int, end: int, quiet: bool) -> None:
    at = datetime.datetime(2026, 3, 2, hour, 30, tzinfo=datetime.UTC)
    assert in_quiet_hours(at, start_hour=start, end_hour=end, tz="UTC") is quiet


def test_quiet_hours_are_read_in_the_channels_time_zone() -> None:
    at = datetime.datetime(2026, 7, 1, 21, 0, tzinfo=datetime.UTC)  # 23:00 in Berlin
    assert in_quiet_hours(at, start_hour=22, end_hour=7, tz="Europe/Berlin")
    end = quiet_hours_end(at, start_hour=22, end_hour=7, tz="Europe/Berlin")
    assert end == datetime.datetime(2026, 7, 2, 5, 0, tzinfo=datetime.UTC)


def test_a_failed_delivery_is_tried_again_later_without_the_url_in_the_error(
    operator: Any, receiver: Receiver
) -> None:
    receiver.status = 500
    c = channel(operator, receiver.url, [NotifyEvent.LOW_STOCK])
    notify([Message(NotifyEvent.LOW_STOCK, "t", "b", "k")])
    assert notifications_send() == 0
    n = Notification.objects.get()
    assert n.attempts == 1 and n.sent_at is None and n.send_after > timezone.now()
    c.refresh_from_db()
    assert "s3cr3t" not in n.error + c.last_error and c.last_error
    receiver.status = 200
    Notification.objects.update(send_after=timezone.now())
    assert notifications_send() == 1


def test_the_farms_events_reach_the_people_they_concern(
    alice: Any, bob: Any, operator: Any, receiver: Receiver, make_printer: Any, pla: Any
) -> None:
    from tests.farm.records_helpers import queued_job

    job = queued_job(alice, pla, quantity=1)
    channel(alice, receiver.url, [NotifyEvent.JOB_DONE, NotifyEvent.JOB_FAILED])
    channel(bob, receiver.url, [NotifyEvent.JOB_DONE])
    channel(operator, receiver.url, [NotifyEvent.PRINTER_ERROR, NotifyEvent.SITE_DOWN])
    notifications_from_events()  # the cursor starts at the events already there
    printer = make_printer("p1")
    event_record(EventKind.JOB_DONE, job=job)
    event_record(EventKind.PRINTER_STATE, printer=printer, message="thermal runaway", new="error")
    event_record(EventKind.PRINTER_STATE, printer=printer, message="", new="ready")
    event_record(EventKind.SITE_DOWN, message="no heartbeat for 80 s", site="berlin")
    assert notifications_from_events() == 3
    assert notifications_from_events() == 0
    by_user = {(n.channel.user.username, n.event) for n in Notification.objects.all()}
    assert by_user == {
        ("alice", NotifyEvent.JOB_DONE),  # hers, not bob's
        ("olga", NotifyEvent.PRINTER_ERROR),
        ("olga", NotifyEvent.SITE_DOWN),
    }
    assert notifications_send() == 3
    titles = {b["title"] for b in receiver.bodies}
    assert "p1 reports an error" in titles
    assert Event.objects.filter(kind=EventKind.JOB_DONE).exists()


def test_url_hint_never_shows_credentials() -> None:
    assert (
        url_hint("mailtos://user:pass@smtp.example.com?to=a@b.c") == "mailtos://smtp.example.com/…"
    )
    assert url_hint("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl") == "slack://…"


def test_the_task_reads_the_events_and_sends(alice: Any, receiver: Receiver, pla: Any) -> None:
    from farm.tasks import notifications_send_task
    from tests.farm.records_helpers import queued_job

    job = queued_job(alice, pla, quantity=1)
    channel(alice, receiver.url, [NotifyEvent.JOB_DONE])
    notifications_send_task()  # sets the cursor
    event_record(EventKind.JOB_DONE, job=job)
    notifications_send_task()
    assert [b["title"] for b in receiver.bodies] == [f"Job #{job.pk} cube.stl is done"]


def test_old_sent_messages_are_forgotten(operator: Any, receiver: Receiver) -> None:
    from farm.services.notifications import notifications_prune

    channel(operator, receiver.url, [NotifyEvent.LOW_STOCK])
    notify(
        [
            Message(NotifyEvent.LOW_STOCK, "t", "b", "old"),
            Message(NotifyEvent.LOW_STOCK, "t", "b", "new"),
        ]
    )
    notifications_send()
    Notification.objects.filter(dedup_key="old").update(
        created_at=timezone.now() - datetime.timedelta(days=91)
    )
    assert notifications_prune() == 1
    assert list(Notification.objects.values_list("dedup_key", flat=True)) == ["new"]
