"""The fleet's change feed on a real Redis (the farm's cache): changed ids since a cursor, many
batches in one read, and a Redis restart (the feed lost) ends in a full refresh."""

from __future__ import annotations

from typing import Any

import pytest

from farm.services.fleet_feed import fleet_changes_publish, fleet_changes_since, fleet_cursor_now
from tests.integration.services import redis_server

pytestmark = [pytest.mark.integration, pytest.mark.backends]


def test_the_change_feed_on_redis(settings: Any) -> None:
    with redis_server() as server:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": server.url,
            }
        }
        cursor = fleet_cursor_now()
        assert fleet_changes_since(cursor).printer_ids == set()
        for batch in ([1, 2], [2, 3], [40]):
            fleet_changes_publish(batch)
        changes = fleet_changes_since(cursor)
        assert not changes.full and changes.printer_ids == {1, 2, 3, 40}
        assert fleet_changes_since(changes.cursor).printer_ids == set()

        server.kill()
        server.start()  # empty: the feed, its version and its epoch are gone
        fleet_changes_publish([5])
        assert fleet_changes_since(changes.cursor).full
