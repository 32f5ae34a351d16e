"""The fleet link's wiring: which printers it watches, and where what it sees goes.

`printers.fleetlink.FleetLink` knows nothing of the farm; here it gets the farm's printers
(`FleetTargets`: read from the database every FARM_FLEET_REFRESH_SECONDS and whenever the
shards it watches change, a printer's API key decrypted only when its row changed) and
records what it sees through `FleetRecorder` (the cache in one round trip, transitions to the
database in batches). The `fleetlink` command and the tests build the link with
`fleet_link_build`, so both watch the same printers the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

from farm.models import Printer
from farm.services.fleet_recorder import FleetRecorder
from farm.services.printer_secrets import settings_with_secret
from farm.services.sites import SiteHeartbeat
from printers.fleet_shards import ShardLeases
from printers.fleetlink import FleetLink, LinkSettings, Target
from printers.serialhost.channel import PortConfig

LEASE_TTL_S = 15.0  # a dead shard's printers are taken over this long after its last tick


class FleetTargets:
    """The printers of one site ("": every site) in the shards this process watches now."""

    def __init__(
        self,
        *,
        site: str = "",
        shard: tuple[int, int] = (0, 1),
        leases: ShardLeases | None = None,
        refresh_s: float | None = None,
    ) -> None:
        self.site = site
        self.index, self.count = shard
        self.leases = leases
        self.refresh_s = settings.FARM_FLEET_REFRESH_SECONDS if refresh_s is None else refresh_s
        self.shards: frozenset[int] = frozenset()
        self.targets: list[Target] = []
        self._rows: dict[int, tuple[Any, ...]] = {}
        self._by_key: dict[int, Target] = {}
        self._read_at = -float("inf")
        self.loads = 0

    def __call__(self) -> list[Target]:
        """The printers to watch: the same list object for as long as nothing changed."""
        shards = self.leases.tick() if self.leases else frozenset({self.index})
        if shards != self.shards or time.monotonic() - self._read_at >= self.refresh_s:
            self._load(shards)
        return self.targets

    def _load(self, shards: frozenset[int]) -> None:
        close_old_connections()  # the link runs for days: survive a database restart
        self.shards, self._read_at = shards, time.monotonic()
        self.loads += 1
        rows = Printer.objects.filter(enabled=True)
        if self.site:
            rows = rows.filter(site__slug=self.site)
        columns = ("pk", "connection_kind", "connection_settings", "secret_encrypted", "site__slug")
        targets, by_key, seen = [], {}, {}
        for row in rows.order_by("pk").values_list(*columns):
            pk = row[0]
            if pk % self.count not in shards:
                continue
            fingerprint = row[1:]
            target = self._by_key.get(pk)
            if target is None or self._rows.get(pk) != fingerprint:
                values = settings_with_secret(row[2], row[3])  # decrypted only when changed
                target = Target(pk, row[1], f"printer-{pk}", values, site=row[4])
            targets.append(target)
            by_key[pk], seen[pk] = target, fingerprint
        if targets != self.targets or any(
            a.settings != b.settings for a, b in zip(targets, self.targets, strict=True)
        ):
            self.targets = targets  # a new list only when something changed: the link
            # reconciles its watchers then, and not on every refresh
        self._by_key, self._rows = by_key, seen

    def release(self) -> None:
        if self.leases is not None:
            self.leases.release()


def fleet_targets(*, site: str = "", shard: tuple[int, int] = (0, 1)) -> list[Target]:
    """The enabled printers of one site in one shard (i, n): those whose id is i modulo n."""
    return FleetTargets(site=site, shard=shard)()


def fleet_link_settings(threads: int = 8) -> LinkSettings:
    return LinkSettings(
        poll_seconds=settings.FARM_POLL_SECONDS,
        threads=threads,
        per_site=settings.FARM_FLEET_PER_SITE,
        throttle=settings.FARM_PUSH_THROTTLE,
    )


def fleet_link_build(
    *,
    site: str = "",
    shard: tuple[int, int] = (0, 1),
    threads: int = 8,
    leases: bool = False,
    heartbeat: Callable[[], None] | None = None,
) -> FleetLink:
    """A fleet link over the printers of `site` in `shard`. With `leases` (a long-running
    `fleetlink`) it holds its shard's lease in the cache and takes over dead shards
    (printers/fleet_shards.py); `heartbeat` is called once a tick (default: the heartbeat of
    the site it watches, or of every site without one: farm.services.sites)."""
    index, count = shard
    shard_leases = None
    if leases:
        shard_leases = ShardLeases(cache, scope=site, index=index, count=count, ttl_s=LEASE_TTL_S)
    targets = FleetTargets(site=site, shard=shard, leases=shard_leases)
    recorder = FleetRecorder()
    watched: set[int] = set()

    last: list[list[Target]] = [[]]

    def current_targets() -> list[Target]:
        found = targets()
        if found is not last[0]:
            keys = {t.key for t in found}
            recorder.forget(watched - keys)  # given back to their shard's own process
            watched.clear()
            watched.update(keys)
            last[0] = found
        return found

    return FleetLink(
        targets=current_targets,
        record=recorder,
        settings=fleet_link_settings(threads),
        heartbeat=heartbeat or SiteHeartbeat(site=site),
        on_stop=targets.release,
    )


def fleet_serial_ports(*, site: str = "", shard: tuple[int, int] = (0, 1)) -> list[PortConfig]:
    """The USB printers among the targets, for the serial host in the fleet link's process."""
    index, count = shard
    rows = Printer.objects.filter(enabled=True, connection_kind="serial")
    if site:
        rows = rows.filter(site__slug=site)
    return [
        PortConfig(f"printer-{pk}", values or {})
        for pk, values in rows.values_list("pk", "connection_settings")
        if pk % count == index
    ]
