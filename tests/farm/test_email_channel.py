"""E-mail to one's own account address when a job is done or fails: the channel made in one
click, the message sent by the notifications task through Django's SMTP backend to a real
SMTP server on 127.0.0.1 (a small sink that speaks enough SMTP to take a message)."""

from __future__ import annotations

import email
import socketserver
import threading
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from farm.models import NotificationChannel, Site
from farm.services.notifications import (
    EVENTS_CURSOR,
    channel_email_account,
    notifications_from_events,
    notifications_send,
)
from tests.farm.records_helpers import ended_run, queued_job


class SmtpSink(socketserver.ThreadingTCPServer):
    """Takes every message it is sent (EHLO, MAIL, RCPT, DATA, QUIT) and keeps it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        super().__init__(("127.0.0.1", 0), SmtpHandler)


class SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        recipients: list[str] = []
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"RCPT":
                recipients.append(line.split(b":", 1)[1].strip(b"<> \r\n").decode())
                self.reply("250 ok")
            elif verb == b"DATA":
                self.reply("354 end with .")
                body = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.messages.append((recipients, email.message_from_bytes(body)))
                recipients = []
                self.reply("250 queued")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:  # EHLO, HELO, MAIL, RSET, NOOP
                self.reply("250 ok")


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.server_address[:2]
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "farm@example.com"
    cache.set(EVENTS_CURSOR, 0, timeout=None)  # every event of the test
    yield sink
    sink.shutdown()
    sink.server_close()


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_a_done_job_is_emailed_to_its_owner_with_where_to_pick_it_up(
    smtp: SmtpSink, alice: User, pla: Any, site: Site, make_printer: Any
) -> None:
    User.objects.filter(pk=alice.pk).update(email="alice@corp.example")
    alice.refresh_from_db()
    Site.objects.filter(pk=site.pk).update(pickup_location="Shelf B, building 4 reception")
    channel_email_account(user=alice)
    job = queued_job(alice, pla, quantity=1)
    printer = make_printer("berlin-01")
    ended_run(job, printer)

    notifications_from_events()
    assert notifications_send() == 1
    [(to, message)] = smtp.messages
    assert to == ["alice@corp.example"]
    assert message["From"] == "farm@example.com"
    assert message["Subject"] == f"Job #{job.pk} cube.stl is done"
    assert "Pick it up at: Shelf B, building 4 reception (Berlin)." in text_of(message)


def test_a_failed_print_is_emailed_too(
    smtp: SmtpSink, alice: User, pla: Any, make_printer: Any
) -> None:
    User.objects.filter(pk=alice.pk).update(email="alice@corp.example")
    alice.refresh_from_db()
    channel_email_account(user=alice)
    job = queued_job(alice, pla, quantity=2)
    ended_run(job, make_printer("berlin-01"), fail="layer shift")
    notifications_from_events()
    assert notifications_send() == 1
    [(_, message)] = smtp.messages
    assert message["Subject"] == f"A print of job #{job.pk} cube.stl failed"
    assert "layer shift" in text_of(message)


def test_no_address_no_channel_and_one_channel_only(alice: User) -> None:
    with pytest.raises(ValidationError, match="no e-mail address"):
        channel_email_account(user=alice)
    alice.email = "alice@corp.example"
    alice.save()
    channel_email_account(user=alice)
    with pytest.raises(ValidationError, match="already"):
        channel_email_account(user=alice)
    assert NotificationChannel.objects.filter(user=alice).count() == 1


def test_the_notifications_page_offers_it_in_one_click(client: Client, alice: User) -> None:
    alice.email = "alice@corp.example"
    alice.save()
    client.force_login(alice)
    assert "E-mail me at alice@corp.example" in client.get("/notifications/").content.decode()
    page = client.post("/notifications/email/", follow=True).content.decode()
    assert "will be e-mailed to you" in page
    assert "E-mail me at" not in page and "to alice@corp.example" in page
    channel = NotificationChannel.objects.get(user=alice)
    assert sorted(channel.events) == ["job_done", "job_failed"]


def test_a_mail_server_that_refuses_is_tried_again_later(
    settings: Any, alice: User, pla: Any, make_printer: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", 9, False
    settings.EMAIL_TIMEOUT = 2
    cache.set(EVENTS_CURSOR, 0, timeout=None)
    alice.email = "alice@corp.example"
    alice.save()
    channel_email_account(user=alice)
    job = queued_job(alice, pla, quantity=1)
    ended_run(job, make_printer("berlin-01"))
    notifications_from_events()
    assert notifications_send() == 0
    channel = NotificationChannel.objects.get(user=alice)
    assert channel.last_error == "delivery failed (attempt 1 of 5)"
