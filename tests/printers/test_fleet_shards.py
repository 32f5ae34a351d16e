"""Shard leases: each process watches its own shard; a dead shard is taken over by exactly one
live process and handed back when its own comes back; no shard is watched by two at once.

The store is Django's cache API over a dict with a clock of its own (the seam), so a lease
can run out without waiting for it.
"""

from __future__ import annotations

from typing import Any

from printers.fleet_shards import ShardLeases

TTL = 15.0


class Store:
    def __init__(self) -> None:
        self.now = 0.0
        self.data: dict[str, tuple[Any, float]] = {}

    def _live(self, key: str) -> tuple[Any, float] | None:
        found = self.data.get(key)
        return found if found and found[1] > self.now else None

    def get(self, key: str, default: Any = None, version: Any = None) -> Any:
        found = self._live(key)
        return found[0] if found else default

    def add(self, key: str, value: Any, timeout: Any = None, version: Any = None) -> bool:
        if self._live(key):
            return False
        self.set(key, value, timeout)
        return True

    def set(self, key: str, value: Any, timeout: Any = None, version: Any = None) -> None:
        self.data[key] = (value, self.now + float(timeout))

    def delete(self, key: str, version: Any = None) -> None:
        self.data.pop(key, None)


def lease(store: Store, index: int, count: int, owner: str, scope: str = "site") -> ShardLeases:
    return ShardLeases(
        store,
        scope=scope,
        index=index,
        count=count,
        owner=owner,
        ttl_s=TTL,
        clock=lambda: store.now,
    )


def shards(store: Store, count: int) -> list[ShardLeases]:
    return [lease(store, i, count, f"process-{i}") for i in range(count)]


def test_each_process_watches_its_own_shard() -> None:
    store = Store()
    assert [s.tick() for s in shards(store, 3)] == [{0}, {1}, {2}]


def test_a_dead_shard_is_taken_over_by_one_live_process_and_handed_back() -> None:
    store = Store()
    a, b, c = shards(store, 3)
    for s in (a, b, c):
        s.tick()
    store.now += TTL + 1  # c died: its lease ran out; a and b renewed theirs just before
    store.data = {k: (v, store.now + TTL) for k, (v, _) in store.data.items() if "2" not in k}
    assert a.tick() == {0, 2}
    assert b.tick() == {1}  # a got there first
    back = lease(store, 2, 3, "process-2-again")
    assert back.tick() == frozenset()  # its lease again, but a still watches its printers
    assert a.tick() == {0}  # a sees the shard's own process back and lets go
    assert back.tick() == {2}
    assert b.tick() == {1}


def test_a_second_process_for_a_shard_watches_nothing_while_the_first_lives() -> None:
    store = Store()
    first, _ = shards(store, 2)
    first.tick()
    twin = lease(store, 0, 2, "twin")
    assert twin.tick() == frozenset()
    store.now += TTL  # shard 1 never started: after a whole lease, the first to look takes it
    assert first.tick() == {0, 1}
    assert twin.tick() == frozenset()  # and never shard 0, which the first holds


def test_a_clean_stop_hands_the_shard_over_at_the_next_tick() -> None:
    store = Store()
    a, b = shards(store, 2)
    a.tick(), b.tick()
    store.now += TTL  # both have run a whole lease: either may take over the other
    a.tick(), b.tick()
    a.release()
    assert b.tick() == {0, 1}
    assert store.get("fleet-shard:site:2:0") is None


def test_shards_of_other_sites_are_apart() -> None:
    store = Store()
    berlin, lyon = lease(store, 0, 1, "b", "berlin"), lease(store, 0, 1, "l", "lyon")
    assert (berlin.tick(), lyon.tick()) == ({0}, {0})
