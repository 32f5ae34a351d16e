"""Notifications: people's channels (Apprise URLs: e-mail, webhooks, chat), the messages the
farm's events make for them, and their delivery by a Celery task (never in a web request).

Events reach people two ways: the farm's own Event rows (job done, print failed, printer
error, site down) are read after a cursor by `notifications_from_events`, so no code that
finishes a run or marks a site down waits on a notification; the records sweep calls
`notify` itself for what it finds (maintenance due, low stock). A message is written once per
channel and key (a unique constraint), so reading the same events twice, or a sweep finding
the same due printer every five minutes, sends nothing twice. Quiet hours hold a message
until they end, in the channel's time zone (the farm's when it names none).

A channel URL holds passwords and tokens: it is stored encrypted (printers.secrets, the key
that protects printer API keys), decrypted only to send, and only its scheme and host are
shown (`url_hint`). Delivery errors are recorded without the URL.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import apprise
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from farm.models import Event, Notification, NotificationChannel, NotifyEvent
from farm.models.event import EventKind
from farm.models.site import validate_timezone
from farm.records_rules import quiet_hours_end, url_hint
from farm.roles import OPERATOR
from farm.services.enqueue import send_task
from farm.services.pickup import pickup_sentence
from farm.task_names import TaskName
from printers.secrets import decrypt, encrypt

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SEND_BATCH = 200
EVENTS_CURSOR = "notifications-event-cursor"
# Operators' events: the farm's, not one person's.
FARM_EVENTS = frozenset(
    {
        NotifyEvent.PRINTER_ERROR,
        NotifyEvent.SITE_DOWN,
        NotifyEvent.LOW_STOCK,
        NotifyEvent.MAINTENANCE_DUE,
    }
)


# A channel that mails the person's own account address through the farm's mail settings
# (FARM_SMTP_HOST, as password resets): no Apprise URL, no SMTP password of their own.
ACCOUNT_EMAIL_URL = "farm-email://account"
ACCOUNT_EMAIL_EVENTS = (NotifyEvent.JOB_DONE, NotifyEvent.JOB_FAILED)


def url_check(url: str) -> str:
    """The URL, stripped, if Apprise knows how to send to it; else ValidationError (which
    names the scheme only)."""
    url = url.strip()
    if url == ACCOUNT_EMAIL_URL:
        return url
    if not url or not apprise.Apprise().add(url):
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        raise ValidationError(f"Apprise cannot send to a {scheme}:// URL like this one.")
    return url


def channel_save(
    *,
    user: User,
    name: str,
    events: Iterable[str],
    url: str = "",
    quiet_from_hour: int | None = None,
    quiet_until_hour: int | None = None,
    tz: str = "",
    channel: NotificationChannel | None = None,
) -> NotificationChannel:
    """Add a channel, or change one (`channel`; an empty `url` keeps its URL)."""
    chosen = sorted(set(events))
    unknown = set(chosen) - set(NotifyEvent.values)
    if unknown:
        raise ValidationError(f"Unknown events: {', '.join(sorted(unknown))}")
    for hour in (quiet_from_hour, quiet_until_hour):
        if hour is not None and not 0 <= hour <= 23:
            raise ValidationError("Quiet hours are hours of the day, 0 to 23.")
    if tz:
        validate_timezone(tz)
    if channel is None:
        if not url:
            raise ValidationError("Give the channel's URL.")
        channel = NotificationChannel(user=user)
    elif channel.user_id != user.pk:
        raise ValidationError("That is someone else's channel.")
    if url:
        url = url_check(url)
        channel.url_encrypted = encrypt(url)
        channel.url_hint = url_hint(url)
    channel.name = name.strip()[:100] or channel.url_hint
    channel.events = chosen
    channel.quiet_from_hour = quiet_from_hour
    channel.quiet_until_hour = quiet_until_hour
    channel.timezone = tz
    channel.save()
    return channel


@dataclass(frozen=True)
class Message:
    event: NotifyEvent
    title: str
    body: str
    key: str  # the same key is said once per channel


def _recipients(
    event: NotifyEvent, users: Iterable[int] | None, only: Iterable[int] | None = None
) -> list[NotificationChannel]:
    channels = NotificationChannel.objects.filter(enabled=True).select_related("user")
    if only is not None:
        return list(channels.filter(pk__in=list(only)))  # asked for by name (a test message)
    if users is not None:
        channels = channels.filter(user_id__in=list(users))
    elif event in FARM_EVENTS:
        channels = channels.filter(Q(user__is_superuser=True) | Q(user__groups__name=OPERATOR))
    # `events` is a JSON list: matched here, as SQLite has no JSON containment (channels are
    # a few per person).
    return [c for c in channels.distinct() if event.value in c.events and c.user.is_active]


def notify(
    messages: Iterable[Message],
    *,
    users: Iterable[int] | None = None,
    channels: Iterable[int] | None = None,
) -> int:
    """Write each message for every channel that wants its event (the channels of `users`
    only, when given; farm events go to operators), and send them after commit. Returns how
    many were written (messages already written for a channel are skipped). `channels`
    names the channels outright, whatever events they chose."""
    now = timezone.now()
    rows: list[Notification] = []
    by_event: dict[NotifyEvent, list[NotificationChannel]] = {}
    for m in messages:
        if m.event not in by_event:
            by_event[m.event] = _recipients(m.event, users, channels)
        for channel in by_event[m.event]:
            tz = channel.timezone or settings.TIME_ZONE
            after = quiet_hours_end(
                now,
                start_hour=channel.quiet_from_hour,
                end_hour=channel.quiet_until_hour,
                tz=tz,
            )
            rows.append(
                Notification(
                    channel=channel,
                    event=m.event,
                    title=m.title[:200],
                    body=m.body,
                    dedup_key=m.key[:200],
                    send_after=after,
                )
            )
    said = set(
        Notification.objects.filter(dedup_key__in={r.dedup_key for r in rows}).values_list(
            "channel_id", "dedup_key"
        )
    )
    rows = [r for r in rows if (r.channel_id, r.dedup_key) not in said]
    if not rows:
        return 0
    # Two sweeps at once may still race past the look-up: the unique key settles it.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(lambda: send_task(TaskName.NOTIFICATIONS_SEND))
    return len(rows)


def channel_email_account(*, user: User) -> NotificationChannel:
    """A channel that e-mails `user`'s account address when their jobs are done or fail."""
    if not user.email:
        raise ValidationError("Your account has no e-mail address: ask an administrator.")
    if NotificationChannel.objects.filter(user=user, url_hint=ACCOUNT_EMAIL_URL).exists():
        raise ValidationError("Your jobs are e-mailed to you already.")
    channel = channel_save(
        user=user, name="E-mail", url=ACCOUNT_EMAIL_URL, events=ACCOUNT_EMAIL_EVENTS
    )
    NotificationChannel.objects.filter(pk=channel.pk).update(url_hint=ACCOUNT_EMAIL_URL)
    channel.url_hint = ACCOUNT_EMAIL_URL
    return channel


def channel_set_enabled(*, channel: NotificationChannel, enabled: bool) -> None:
    NotificationChannel.objects.filter(pk=channel.pk).update(enabled=enabled)


def channel_test(*, channel: NotificationChannel) -> None:
    """A test message to this channel, sent by the worker like any other."""
    event = NotifyEvent(channel.events[0]) if channel.events else NotifyEvent.JOB_DONE
    text = f"This channel ({channel.name}) works."
    key = f"test:{timezone.now().isoformat()}"
    notify([Message(event, "Test from the farm", text, key)], channels=[channel.pk])


def _event_message(event: Event) -> tuple[Message, list[int] | None] | None:
    """The message an Event makes, and who it is for (None: the farm's operators)."""
    if event.kind == EventKind.JOB_DONE and event.job is not None:
        job = event.job
        return Message(
            NotifyEvent.JOB_DONE,
            f"Job #{job.pk} {job.name} is done",
            f"All {job.quantity} copies of {job.name} are printed and off the bed. "
            f"{pickup_sentence(job)}".strip(),
            f"event:{event.pk}",
        ), [job.owner_id]
    if event.kind == EventKind.RUN_FAILED and event.job is not None:
        job = event.job
        where = f" on {event.printer.name}" if event.printer else ""
        return Message(
            NotifyEvent.JOB_FAILED,
            f"A print of job #{job.pk} {job.name} failed",
            f"A run of {job.name}{where} failed: {event.message or 'no reason given'}. "
            "Its copies are back in the queue.",
            f"event:{event.pk}",
        ), [job.owner_id]
    if (
        event.kind == EventKind.PRINTER_STATE
        and event.data.get("new") == "error"
        and event.printer is not None
    ):
        return Message(
            NotifyEvent.PRINTER_ERROR,
            f"{event.printer.name} reports an error",
            event.message or "The printer is in error.",
            f"event:{event.pk}",
        ), None
    if event.kind == EventKind.SITE_DOWN:
        return Message(
            NotifyEvent.SITE_DOWN,
            f"Site {event.data.get('site', '')} is down",
            event.message,
            f"event:{event.pk}",
        ), None
    return None


WATCHED_KINDS = (
    EventKind.JOB_DONE,
    EventKind.RUN_FAILED,
    EventKind.PRINTER_STATE,
    EventKind.SITE_DOWN,
)


def notifications_from_events(*, limit: int = 1000) -> int:
    """Messages for the farm's events after the cursor; returns how many were written.

    The cursor is kept in the cache: when it is lost (a Redis restart) the last ten minutes
    are read again, and the unique key per channel and event keeps anything from being sent
    twice.
    """
    cursor = cache.get(EVENTS_CURSOR)
    events = Event.objects.filter(kind__in=[k.value for k in WATCHED_KINDS])
    if cursor is None:
        events = events.filter(at__gte=timezone.now() - datetime.timedelta(minutes=10))
    else:
        events = events.filter(pk__gt=cursor)
    batch = list(events.select_related("job", "printer").order_by("pk")[:limit])
    written = 0
    for event in batch:
        made = _event_message(event)
        if made is not None:
            message, users = made
            written += notify([message], users=users)
    if batch:
        cache.set(EVENTS_CURSOR, batch[-1].pk, timeout=None)
    elif cursor is None:
        latest = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
        cache.set(EVENTS_CURSOR, latest or 0, timeout=None)
    return written


def _deliver(channel: NotificationChannel, title: str, body: str) -> bool:
    url = decrypt(channel.url_encrypted)
    if url == ACCOUNT_EMAIL_URL:
        address = channel.user.email  # read now: the address may have changed since
        return bool(address) and send_mail(title, body, None, [address]) == 1
    sender = apprise.Apprise()
    if not sender.add(url):
        return False
    return bool(sender.notify(title=title, body=body))


def notifications_send(*, limit: int = SEND_BATCH) -> int:
    """Send the messages whose time has come; returns how many went out.

    Each attempt is claimed with a conditional UPDATE on its attempt count, so two workers
    never send one message twice. A failure is tried again later (1, 2, 4, 8 minutes), at
    most MAX_ATTEMPTS times.
    """
    now = timezone.now()
    due = list(
        Notification.objects.filter(
            sent_at=None, send_after__lte=now, attempts__lt=MAX_ATTEMPTS
        ).select_related("channel__user")[:limit]
    )
    sent = 0
    for n in due:
        claimed = Notification.objects.filter(pk=n.pk, sent_at=None, attempts=n.attempts).update(
            attempts=F("attempts") + 1
        )
        if claimed != 1:
            continue  # another worker has it
        if not n.channel.enabled:
            Notification.objects.filter(pk=n.pk).update(error="channel turned off")
            continue
        try:
            ok = _deliver(n.channel, n.title, n.body)
        except Exception as exc:  # a plugin's own error: recorded by kind, never with the URL
            ok = False
            log.warning("notification %s via %s failed: %s", n.pk, n.channel.url_hint, type(exc))
        if ok:
            Notification.objects.filter(pk=n.pk).update(sent_at=timezone.now(), error="")
            NotificationChannel.objects.filter(pk=n.channel_id).update(last_error="")
            sent += 1
        else:
            retry = now + datetime.timedelta(minutes=2**n.attempts)
            why = f"delivery failed (attempt {n.attempts + 1} of {MAX_ATTEMPTS})"
            Notification.objects.filter(pk=n.pk).update(error=why, send_after=retry)
            NotificationChannel.objects.filter(pk=n.channel_id).update(last_error=why)
            log.warning("notification %s via %s: %s", n.pk, n.channel.url_hint, why)
    return sent


KEEP_DAYS = 90


def notifications_prune() -> int:
    """Forget messages sent (or given up) more than KEEP_DAYS ago: the outbox stays small.
    A key forgotten may be said again, which for a reminder left undone that long is right."""
    before = timezone.now() - datetime.timedelta(days=KEEP_DAYS)
    old = Notification.objects.filter(created_at__lt=before).filter(
        Q(sent_at__isnull=False) | Q(attempts__gte=MAX_ATTEMPTS)
    )
    return old.delete()[0]
