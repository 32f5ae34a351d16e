"""Signed webhooks, the part with no Django in it: the body, its signature and its check.

A delivery is a POST of JSON with these headers:

    Content-Type: application/json
    X-Farm-Event: job.done                      (the event's kind)
    X-Farm-Delivery: 1234                       (the same on every retry: deduplicate by it)
    X-Farm-Signature-256: sha256=<hex>          (HMAC-SHA256 of the body, the endpoint's secret)

A receiver recomputes the HMAC over the raw body with its secret and compares in constant time
(`signature_valid`), as GitHub's webhooks are checked. The body carries the event's time, so
a receiver can refuse old deliveries replayed at it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

SIGNATURE_HEADER = "X-Farm-Signature-256"
EVENT_HEADER = "X-Farm-Event"
DELIVERY_HEADER = "X-Farm-Delivery"
PREFIX = "sha256="


def new_secret() -> str:
    """A fresh endpoint secret: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` (X-Farm-Signature-256 as received) signs `body` with `secret`."""
    return hmac.compare_digest(signature(secret, body), header)


def delivery_headers(*, secret: str, body: bytes, event: str, delivery: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "farm-webhooks/1",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery),
        SIGNATURE_HEADER: signature(secret, body),
    }


def permanent_failure(status: int) -> bool:
    """A status that retrying will not change: the endpoint is turned off (410 Gone), or the
    delivery dropped (other 4xx but timeouts and rate limits)."""
    return 400 <= status < 500 and status not in (408, 409, 425, 429)
