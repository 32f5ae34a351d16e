"""Which shards a fleet-link process watches now: its own, and those of dead ones.

`fleetlink --shard i/n` watches the printers whose id is i modulo n. Each process holds a lease
on its shard in a shared store (the farm's cache: Redis), renewed every tick; a lease runs out
`ttl_s` after the last renewal. A shard whose lease ran out has lost its process: the first
live process to notice (that has itself run for a whole `ttl_s`, so peers starting together
take their own leases first) takes it over (a second, "takeover" lease, so only one does) and
watches its printers too, until the shard's own process is back and holds its lease again;
then the taker lets go, and the returning process waits for that before it watches, so no
printer is watched by two processes at once (beyond the one tick the store's get-then-set can
race, which the database's conditional updates make harmless).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol


class LeaseStore(Protocol):
    """The part of Django's cache API leases need (cache.add is atomic on Redis)."""

    def add(self, key: str, value: Any, timeout: Any = ..., version: Any = ...) -> bool: ...

    def get(self, key: str, default: Any = ..., version: Any = ...) -> Any: ...

    def set(self, key: str, value: Any, timeout: Any = ..., version: Any = ...) -> None: ...

    def delete(self, key: str, version: Any = ...) -> Any: ...


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class ShardLeases:
    def __init__(
        self,
        store: LeaseStore,
        *,
        scope: str,
        index: int,
        count: int,
        owner: str = "",
        ttl_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= index < count:
            raise ValueError("shard index out of range")
        self.store = store
        self.scope = scope or "*"
        self.index = index
        self.count = count
        self.owner = owner or process_owner()
        self.ttl_s = ttl_s
        self.clock = clock
        self._started = clock()

    def _own_key(self, shard: int) -> str:
        return f"fleet-shard:{self.scope}:{self.count}:{shard}"

    def _takeover_key(self, shard: int) -> str:
        return f"fleet-takeover:{self.scope}:{self.count}:{shard}"

    def _hold(self, key: str) -> bool:
        """Renew the lease `key` if it is ours, take it if it is free; whether we hold it."""
        holder = self.store.get(key)
        if holder == self.owner:
            self.store.set(key, self.owner, self.ttl_s)
            return True
        if holder is None:
            return bool(self.store.add(key, self.owner, self.ttl_s))
        return False

    def tick(self) -> frozenset[int]:
        """Renew and take leases; the shards this process should watch until the next tick."""
        shards: set[int] = set()
        # Back after a death: wait until the process that took our printers lets go.
        if self._hold(self._own_key(self.index)) and self.store.get(
            self._takeover_key(self.index)
        ) in (None, self.owner):
            shards.add(self.index)
        # Peers started at the same moment as this one have not taken their leases yet: take
        # over only shards silent for a whole lease since this process started.
        may_take_over = self.clock() - self._started >= self.ttl_s
        for shard in range(self.count):
            if shard == self.index:
                continue
            if self.store.get(self._own_key(shard)) is None:
                if not may_take_over:
                    continue
                if self._hold(self._takeover_key(shard)):
                    shards.add(shard)
            elif self.store.get(self._takeover_key(shard)) == self.owner:
                self.store.delete(self._takeover_key(shard))  # its own process is back
        return frozenset(shards)

    def release(self) -> None:
        """Give every lease up (a clean stop): others take over at their next tick."""
        for shard in range(self.count):
            for key in (self._own_key(shard), self._takeover_key(shard)):
                if self.store.get(key) == self.owner:
                    self.store.delete(key)
