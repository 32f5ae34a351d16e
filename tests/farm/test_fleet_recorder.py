"""The fleet link's recording, batched: the cache for everything in one round trip, the
database only for what changed, one query to load the changed printers, each transition still
waking the planner; a silent printer with a run is examined again without news, so its run
goes in doubt; shards hand their printers over through the farm's cache.
"""

from __future__ import annotations

import datetime
import secrets
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from farm.models import Printer, PrintRun
from farm.services import fleet_recorder
from farm.services.fleet import FleetTargets
from farm.services.fleet_recorder import FleetRecorder
from farm.services.observation import printer_live
from farm.statuses import RunStatus
from farm.task_names import TaskName
from printers.drivers.base import DeviceStatus
from printers.fleet_shards import ShardLeases
from printers.fleetlink import Observation, Target
from printers.states import DeviceState
from tests.farm.test_doubt import printing  # noqa: F401  (the fixture: a run printing)

pytestmark = pytest.mark.django_db(transaction=True)


def seen(printer: Printer, state: DeviceState, **fields: Any) -> Observation:
    target = Target(printer.pk, "simulated", printer.device_id)
    return Observation(target, DeviceStatus(state, **fields), time.time())


def printer_selects(queries: CaptureQueriesContext) -> int:
    return sum(
        1 for q in queries if q["sql"].startswith("SELECT") and 'FROM "farm_printer"' in q["sql"]
    )


def test_a_tick_with_nothing_new_touches_no_row(make_printer: Any) -> None:
    printers = [make_printer(f"p{i}") for i in range(10)]
    recorder = FleetRecorder()
    recorder([seen(p, DeviceState.READY) for p in printers])  # first sight: each examined once
    with CaptureQueriesContext(connection) as queries:
        recorder([seen(p, DeviceState.READY) for p in printers])
    assert len(queries) == 0
    live = printer_live([p.pk for p in printers])
    assert {pk: v["state"] for pk, v in live.items()} == {p.pk: "ready" for p in printers}


def test_transitions_are_loaded_in_one_query_and_each_wakes_the_planner(
    make_printer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    printers = [make_printer(f"p{i}", state="printing") for i in range(10)]
    recorder = FleetRecorder()
    recorder([seen(p, DeviceState.PRINTING) for p in printers])
    sent: list[tuple[str, tuple[int, ...]]] = []

    def send_task(name: str, *args: int) -> bool:  # the broker: the one seam
        sent.append((name, args))
        return True

    monkeypatch.setattr("farm.services.enqueue.send_task", send_task)
    ended = [seen(p, DeviceState.READY) for p in printers[:4]]
    with CaptureQueriesContext(connection) as queries:
        recorder(ended + [seen(p, DeviceState.PRINTING) for p in printers[4:]])
    assert printer_selects(queries) == 2  # the four loaded together, then read back
    states = dict(Printer.objects.values_list("name", "state"))
    assert [states[f"p{i}"] for i in range(10)] == ["ready"] * 4 + ["printing"] * 6
    woken = sorted(args[0] for name, args in sent if name == TaskName.PRINTER_READY)
    assert woken == sorted(p.pk for p in printers[:4])


def test_a_silent_printer_with_a_run_is_examined_again_until_its_run_is_in_doubt(
    printing: PrintRun,  # noqa: F811
) -> None:
    printer = Printer.objects.get(pk=printing.printer_id)
    recorder = FleetRecorder()
    recorder([seen(printer, DeviceState.OFFLINE, message="unreachable: no answer within 10 s")])
    assert Printer.objects.get(pk=printer.pk).state == "offline"
    silent_since = timezone.now() - datetime.timedelta(seconds=3600)
    Printer.objects.filter(pk=printer.pk).update(state_changed_at=silent_since)
    recorder([])  # nothing heard, and examined moments ago: left alone
    printing.refresh_from_db()
    assert printing.status == RunStatus.PRINTING
    recorder.examined_at[printer.pk] -= fleet_recorder.EXAMINE_EVERY_S  # the clock seam
    recorder([])  # still nothing heard: examined again, past the grace
    printing.refresh_from_db()
    assert printing.status == RunStatus.IN_DOUBT


def test_a_dead_shards_printers_are_watched_by_a_live_one_until_it_is_back(
    make_printer: Any,
) -> None:
    printers = [make_printer(f"p{i}") for i in range(6)]
    scope = secrets.token_hex(4)  # leases of this test only, whatever the cache holds
    clock = [0.0]

    def leases(index: int, owner: str) -> ShardLeases:
        return ShardLeases(
            cache, scope=scope, index=index, count=2, owner=owner, clock=lambda: clock[0]
        )

    a = FleetTargets(shard=(0, 2), leases=leases(0, "a"), refresh_s=3600)
    b = FleetTargets(shard=(1, 2), leases=leases(1, "b"), refresh_s=3600)
    evens = {p.pk for p in printers if p.pk % 2 == 0}
    odds = {p.pk for p in printers if p.pk % 2 == 1}

    def keys(targets: FleetTargets) -> set[int]:
        return {t.key for t in targets()}

    assert (keys(a), keys(b)) == (evens, odds)
    clock[0] += 20  # both have run a whole lease
    cache.delete(f"fleet-shard:{scope}:2:1")  # b died: its lease ran out
    assert keys(a) == evens | odds
    back = FleetTargets(shard=(1, 2), leases=leases(1, "b-again"), refresh_s=3600)
    assert keys(back) == set()  # a still watches them
    assert keys(a) == evens
    assert keys(back) == odds
    a.release()
    back.release()
