"""The fleet's change feed: which printers changed since a client's last look.

Every write of live entries (and every operator action on a printer) publishes the ids it
touched as one batch under the next version number (`fleet_changes_publish`). A fleet view
polls with the cursor it was given and gets back only the ids changed since
(`fleet_changes_since`): its cost is the number of batches and ids since, not the number of
printers. It lives in the cache (Redis in a farm), through Django's cache API, so the embedded
default works too.

A cursor is `epoch.version.issued`: the epoch changes when the cache lost the feed (a Redis
restart), and a cursor older than the batches' lifetime may have missed expired ones; either
way the client is told to load the whole view again.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache

log = logging.getLogger(__name__)

VERSION_KEY = "fleet-feed:version"
EPOCH_KEY = "fleet-feed:epoch"
FEED_TTL_SECONDS = 600  # a batch lives this long; an older cursor gets a full refresh
MAX_BATCHES = 500  # more batches than this since a cursor: a full refresh is cheaper
# A batch reserved (version taken) but not yet written is normal for a few milliseconds; one
# still missing after this long was lost (evicted): the client starts again.
MISSING_GRACE_SECONDS = 30


def batch_key(version: int) -> str:
    return f"fleet-feed:batch:{version}"


@dataclass(frozen=True)
class FleetChanges:
    """The answer to "what changed since my cursor": ids, or `full` (load everything)."""

    cursor: str
    printer_ids: frozenset[int]
    full: bool


def fleet_changes_publish(printer_ids: Iterable[int]) -> None:
    """Say that these printers changed. Best effort: a cache outage must not stop the caller
    (the fleet link); clients then see the feed's epoch change and load everything again."""
    ids = sorted(set(printer_ids))
    if not ids:
        return
    try:
        _epoch()
        try:
            version = cache.incr(VERSION_KEY)
        except ValueError:  # the counter expired or was never set
            cache.add(VERSION_KEY, 0, None)
            version = cache.incr(VERSION_KEY)
        cache.set(batch_key(version), ids, FEED_TTL_SECONDS)
    except Exception:  # any cache backend's error
        log.warning("change feed: %d printers not published", len(ids), exc_info=True)


def fleet_cursor_now() -> str:
    """The cursor of a client that has just loaded everything."""
    return _cursor(_epoch(), _version(), time.time())


def fleet_changes_since(cursor: str) -> FleetChanges:
    epoch, version = _epoch(), _version()
    now = time.time()
    fresh = FleetChanges(cursor=_cursor(epoch, version, now), printer_ids=frozenset(), full=True)
    parsed = _parse(cursor)
    if parsed is None:
        return fresh
    their_epoch, seen, issued = parsed
    if their_epoch != epoch or seen > version or now - issued > FEED_TTL_SECONDS:
        return fresh
    if seen == version:
        return FleetChanges(
            cursor=_cursor(epoch, version, now), printer_ids=frozenset(), full=False
        )
    if version - seen > MAX_BATCHES:
        return fresh
    found = cache.get_many([batch_key(v) for v in range(seen + 1, version + 1)])
    ids: set[int] = set()
    reached = seen
    for v in range(seen + 1, version + 1):
        batch = found.get(batch_key(v))
        if batch is None:
            break  # being written, or lost: stop here and look again next time
        ids.update(batch)
        reached = v
    if reached < version and reached == seen and now - issued > MISSING_GRACE_SECONDS:
        return fresh
    # Up to the last batch read in order: the cursor keeps its issue time while it is held
    # up, so a batch lost for good ends in a full refresh, not a client stuck for ever.
    stamp = now if reached == version else issued
    return FleetChanges(
        cursor=_cursor(epoch, reached, stamp), printer_ids=frozenset(ids), full=False
    )


def _epoch() -> str:
    epoch = cache.get(EPOCH_KEY)
    if epoch is None:
        cache.add(EPOCH_KEY, secrets.token_hex(4), None)
        epoch = cache.get(EPOCH_KEY)
    return str(epoch)


def _version() -> int:
    return int(cache.get(VERSION_KEY) or 0)


def _cursor(epoch: str, version: int, issued: float) -> str:
    return f"{epoch}.{version}.{int(issued)}"


def _parse(cursor: str) -> tuple[str, int, float] | None:
    try:
        epoch, version, issued = cursor.split(".")
        return epoch, int(version), float(issued)
    except ValueError:
        return None
