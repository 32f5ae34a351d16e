"""Signed webhooks for job and printer events (farm.webhooks says what a delivery looks like).

As with notifications, the farm's Event rows are read after a cursor (`webhooks_from_events`),
so nothing that finishes a run or records a printer's state waits on an HTTP call: each event
becomes one delivery per endpoint that may see it (a job's events go to its owner's endpoints
and the operators'; a printer's, to the operators' only), written once (a unique constraint),
and a Celery task sends them (`webhooks_send`), each attempt claimed by a conditional UPDATE.

The secret signs; it is stored encrypted (printers.secrets, as printer API keys are) and shown
once, when the endpoint is made. Errors are recorded with the URL's host, never its path or
query (which may hold a token).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import F
from django.utils import timezone

from farm.models import Event, WebhookDelivery, WebhookEndpoint
from farm.models.event import EventKind
from farm.roles import is_manager, is_operator
from farm.webhooks import body_bytes, delivery_headers, new_secret, permanent_failure
from printers.secrets import decrypt, encrypt

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
SEND_BATCH = 200
TIMEOUT_SECONDS = 5.0
EVENTS_CURSOR = "webhooks-event-cursor"
WATCHED_PREFIXES = ("job.", "run.", "printer.")
KEEP_DAYS = 30


def webhook_create(
    *, owner: User, name: str, url: str, events: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned this once: keep it at the receiver)."""
    URLValidator(schemes=["http", "https"])(url)
    wanted = sorted(set(events or []))
    if any(not e.startswith(WATCHED_PREFIXES) for e in wanted):
        raise ValidationError("Webhooks carry job.*, run.* and printer.* events only.")
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, name=name, url=url, secret_encrypted=encrypt(secret), events=wanted
    )
    return endpoint, secret


def webhook_new_secret(*, endpoint: WebhookEndpoint) -> str:
    """Replace the endpoint's secret; returns the new one (shown this once)."""
    secret = new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=encrypt(secret))
    return secret


def webhook_set_enabled(*, endpoint: WebhookEndpoint, enabled: bool) -> None:
    """Turn an endpoint off (its waiting deliveries wait, none are written) or on again."""
    cleared = {"last_error": ""} if enabled else {}  # on again: the old error is history
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=enabled, **cleared)


def webhook_event_kinds() -> list[str]:
    """The event kinds an endpoint may ask for."""
    return sorted(k.value for k in EventKind if k.value.startswith(WATCHED_PREFIXES))


def url_host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def event_payload(event: Event) -> dict[str, Any]:
    """What a delivery says about `event`: the event, its job and printer as the API names
    them (no file names, no connection settings)."""
    job = event.job
    printer = event.printer
    return {
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "at": event.at.isoformat(),
            "message": event.message,
            "data": event.data,
            "run": event.run_id,
        },
        "job": None
        if job is None
        else {
            "id": job.pk,
            "name": job.name,
            "owner": job.owner.username,
            "status": job.status,
            "quantity": job.quantity,
            "planned_end": job.planned_end.isoformat() if job.planned_end else None,
        },
        "printer": None
        if printer is None
        else {"id": printer.pk, "name": printer.name, "site": printer.site.slug},
    }


def _audience(event: Event, endpoints: list[WebhookEndpoint], operators: set[int]) -> list[int]:
    """The endpoints (ids) that may see `event`, as their owners may on the web."""
    out = []
    for endpoint in endpoints:
        if endpoint.events and event.kind not in endpoint.events:
            continue
        mine = event.job is not None and event.job.owner_id == endpoint.owner_id
        if mine or endpoint.owner_id in operators:
            out.append(endpoint.pk)
    return out


def webhooks_from_events(*, limit: int = 1000) -> int:
    """Deliveries for the events after the cursor; returns how many were written. A lost
    cursor (a Redis restart) reads the last ten minutes again; the unique constraint keeps
    anything from being sent twice."""
    cursor = cache.get(EVENTS_CURSOR)
    events = Event.objects.all()
    if cursor is None:
        events = events.filter(at__gte=timezone.now() - datetime.timedelta(minutes=10))
    else:
        events = events.filter(pk__gt=cursor)
    batch = list(events.select_related("job__owner", "printer__site").order_by("pk")[:limit])
    if not batch:
        if cursor is None:
            latest = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
            cache.set(EVENTS_CURSOR, latest or 0, timeout=None)
        return 0
    endpoints = list(WebhookEndpoint.objects.filter(enabled=True).select_related("owner"))
    # Operators' and managers' endpoints get every event (a manager's are the farm's ERP, its
    # chat bridge); anyone else's, their own jobs' only.
    operators = {e.owner_id for e in endpoints if is_operator(e.owner) or is_manager(e.owner)}
    now = timezone.now()
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event=event,
            body=body_bytes(event_payload(event)).decode(),
            send_after=now,
        )
        for event in batch
        if event.kind.startswith(WATCHED_PREFIXES)
        for endpoint_id in _audience(event, endpoints, operators)
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    cache.set(EVENTS_CURSOR, batch[-1].pk, timeout=None)
    return len(rows)


def webhooks_send(*, limit: int = SEND_BATCH, client: httpx.Client | None = None) -> int:
    """Send the deliveries whose time has come, oldest first; returns how many arrived.

    An endpoint that fails is not tried again in this batch (a dead receiver costs one
    timeout per pass, not one per delivery); its deliveries wait 1, 2, 4 ... minutes, at most
    MAX_ATTEMPTS tries. A 4xx that retrying cannot mend drops the delivery; 410 Gone turns
    the endpoint off.
    """
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            sent_at=None, send_after__lte=now, attempts__lt=MAX_ATTEMPTS, endpoint__enabled=True
        )
        .select_related("endpoint", "event")
        .order_by("pk")[:limit]
    )
    if not due:
        return 0
    failed: set[int] = set()
    sent = 0
    with client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as http:
        for delivery in due:
            if delivery.endpoint_id in failed:
                continue
            claimed = WebhookDelivery.objects.filter(
                pk=delivery.pk, sent_at=None, attempts=delivery.attempts
            ).update(attempts=F("attempts") + 1)
            if claimed != 1:
                continue  # another worker has it
            if _deliver(http, delivery):
                sent += 1
            else:
                failed.add(delivery.endpoint_id)
    return sent


def _deliver(http: httpx.Client, delivery: WebhookDelivery) -> bool:
    endpoint = delivery.endpoint
    body = delivery.body.encode()
    headers = delivery_headers(
        secret=decrypt(endpoint.secret_encrypted),
        body=body,
        event=delivery.event.kind,
        delivery=delivery.pk,
    )
    status: int | None = None
    try:
        status = http.post(endpoint.url, content=body, headers=headers).status_code
    except httpx.HTTPError as exc:
        why = f"{type(exc).__name__} from {url_host(endpoint.url)}"
    else:
        if 200 <= status < 300:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                sent_at=timezone.now(), status_code=status, error=""
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_error="")
            return True
        why = f"HTTP {status} from {url_host(endpoint.url)}"
    attempt = delivery.attempts + 1
    update: dict[str, Any] = {"status_code": status, "error": why[:300]}
    if status is not None and permanent_failure(status):
        update["attempts"] = MAX_ATTEMPTS  # given up: retrying cannot mend it
        why += ", not retried"
        if status == 410:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
            why += "; the endpoint is gone and was turned off"
    else:
        update["send_after"] = timezone.now() + datetime.timedelta(minutes=2 ** (attempt - 1))
        why += f" (attempt {attempt} of {MAX_ATTEMPTS})"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**update)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_error=why[:300])
    log.warning("webhook %s to %s: %s", delivery.pk, endpoint.name, why)
    return False


def webhooks_prune() -> int:
    """Forget deliveries made (or given up) more than KEEP_DAYS ago."""
    before = timezone.now() - datetime.timedelta(days=KEEP_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(created_at__lt=before).delete()
    return deleted
