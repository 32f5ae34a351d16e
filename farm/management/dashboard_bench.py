"""The benchmark behind `manage.py bench_dashboard`: the fleet view at one farm size.

Seeds the farm with `seed_demo --printers N`, gives the printers a floor's mix of states (most
printing with live entries in the cache, as the fleet link writes them; beds to clear, errors,
offline, filament requests, maintenance), then, through Django's test client in this process
(so the time is the server's: view, queries, cache, templates), measures:

- the first load of the fleet view (time, bytes, queries), and of a filtered view;
- live updates when 1 % of the printers change: the changes are written with
  `printers_live_record` (the fleet link's own call, which publishes to the change feed), then
  the client asks with its cursor and the ids it shows; bytes, time and queries per update;
- one update that also recounts the states (the counts are shared for COUNTS_SECONDS);
- the dashboard's refresh every 2 s (/operator/?partial=1): at most a page of printers, those
  that need someone, when the farm is larger than a page.

Run it on a database of its own: it writes thousands of rows.
"""

from __future__ import annotations

import io
import random
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from farm.models import Material, Printer
from farm.services.fleet_view import FleetFilters
from farm.services.observation import printers_live_record
from farm.views.fleet import fleet_counts_key
from printers.drivers.base import DeviceStatus
from printers.states import DeviceState

CURSOR = re.compile(rb'data-cursor="([^"]+)"')
CARD_ID = re.compile(rb'data-printer-id="(\d+)"')
# The floor's mix: (share, recorded state, bed clear, maintenance, filament asked for).
MIX = (
    (0.70, "printing", True, False, False),
    (0.12, "ready", True, False, False),
    (0.06, "finished", False, False, False),
    (0.03, "error", True, False, False),
    (0.03, "offline", True, False, False),
    (0.03, "ready", True, False, True),
    (0.03, "ready", True, True, False),
)


def run(*, printers: int, updates: int, seed_value: int = 0) -> dict[str, Any]:
    rng = random.Random(seed_value)
    started = time.perf_counter()
    ids = floor_seed(printers=printers, rng=rng)
    seeded_s = time.perf_counter() - started
    with connection.cursor() as db:
        # As a farm's database would be after its autovacuum: statistics and visibility known,
        # so the first reads measure the view, not the clean-up of 10,000 fresh rows.
        db.execute("VACUUM ANALYZE")

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="operator"))
    client.get("/operator/fleet/")  # warm: templates compiled, connection open

    first = [_timed(client, "/operator/fleet/") for _ in range(9)]
    body = first[-1]["body"]
    cursor = CURSOR.search(body).group(1).decode()  # type: ignore[union-attr]
    shown = [int(pk) for pk in CARD_ID.findall(body)]
    filtered = [_timed(client, "/operator/fleet/?site=Berlin&state=printing") for _ in range(5)]

    changed_each = max(1, printers // 100)
    answers = []
    for _ in range(updates):
        chosen = rng.sample(ids, changed_each)
        printers_live_record([(pk, _printing(rng), timezone.now()) for pk in chosen])
        answer = _timed(
            client,
            "/operator/fleet/changes/",
            {"cursor": cursor, "ids": ",".join(map(str, shown))},
        )
        cursor = answer["json"]["cursor"]
        answers.append(answer)
    cache.delete(fleet_counts_key(FleetFilters()))
    printers_live_record(
        [(pk, _printing(rng), timezone.now()) for pk in rng.sample(ids, changed_each)]
    )
    recount = _timed(
        client, "/operator/fleet/changes/", {"cursor": cursor, "ids": ",".join(map(str, shown))}
    )
    dashboard = _timed(client, "/operator/?partial=1")
    return {
        "printers": printers,
        "seed_seconds": round(seeded_s, 1),
        "first_load": _summary(first) | {"cards": len(shown)},
        "filtered_load": _summary(filtered),
        "live_update": _summary(answers)
        | {
            "printers_changed": changed_each,
            "cards_sent_mean": statistics.mean(len(a["json"]["cards"]) for a in answers),
        },
        "live_update_with_recount": _summary([recount]),
        "dashboard_refresh": _summary([dashboard]),
    }


def floor_seed(*, printers: int, rng: random.Random) -> list[int]:
    """`seed_demo --printers N` with the floor's mix of states (MIX), the printing ones with
    live entries as the fleet link writes them; the printers' ids, shuffled. The browser
    tests (tests/web/test_floor_browser.py) build their 10,000-printer farm with it too."""
    call_command("seed_demo", printers=printers, stdout=io.StringIO())
    ids = _floor_mix(rng)
    printing = list(Printer.objects.filter(state="printing").values_list("pk", flat=True))
    printers_live_record([(pk, _printing(rng), timezone.now()) for pk in printing])
    return ids


def _floor_mix(rng: random.Random) -> list[int]:
    ids = list(Printer.objects.values_list("pk", flat=True))
    rng.shuffle(ids)
    other = Material.objects.order_by("pk").last()
    start = 0
    for share, state, clear, maintenance, filament in MIX:
        end = start + int(round(share * len(ids)))
        Printer.objects.filter(pk__in=ids[start:end]).update(
            state=state,
            bed_clear=clear,
            maintenance=maintenance,
            requested_material=other if filament else None,
        )
        start = end
    return ids


def _printing(rng: random.Random) -> DeviceStatus:
    return DeviceStatus(
        state=DeviceState.PRINTING,
        job_name="part.gcode",
        progress=rng.random(),
        seconds_left=rng.uniform(60, 20000),
        temperatures={"tool0": 215.0, "bed": 60.0},
    )


def _timed(client: Client, url: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url, data)
        seconds = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code)
    parsed = response.json() if response["Content-Type"].startswith("application/json") else None
    return {
        "seconds": seconds,
        "bytes": len(response.content),
        "queries": len(queries),
        "body": response.content,
        "json": parsed,
    }


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str, scale: Callable[[float], float] = float) -> float:
        return round(scale(statistics.median(s[key] for s in samples)), 1)

    return {
        "ms_median": median("seconds", lambda s: s * 1000),
        "ms_max": round(max(s["seconds"] for s in samples) * 1000, 1),
        "bytes_median": int(statistics.median(s["bytes"] for s in samples)),
        "queries_median": int(statistics.median(s["queries"] for s in samples)),
        "samples": len(samples),
    }
