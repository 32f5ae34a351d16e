"""The fleet link's wiring: which printers it watches, and where what it sees goes.

`printers.fleetlink.FleetLink` knows nothing of the farm; here it gets the farm's printers
(`fleet_targets`) and records every status through `printer_observe`. The `fleetlink` command
and the tests build the link with `fleet_link_build`, so both watch the same printers the same
way.
"""

from __future__ import annotations

from django.conf import settings
from django.db import close_old_connections

from farm.models import Printer
from farm.services.observation import printer_observe
from farm.services.printer_secrets import connection_settings
from printers.drivers.base import DeviceStatus
from printers.fleetlink import FleetLink, Target
from printers.serialhost.channel import PortConfig


def fleet_targets(*, site: str = "", shard: tuple[int, int] = (0, 1)) -> list[Target]:
    """The enabled printers of one site ("": every site) in one shard (i, n): every n-th from i."""
    index, count = shard
    close_old_connections()  # the link runs for days: survive a database restart between passes
    rows = Printer.objects.filter(enabled=True)
    if site:
        rows = rows.filter(site__slug=site)
    return [
        Target(p.pk, p.connection_kind, p.device_id, connection_settings(p))
        for p in rows
        if p.pk % count == index
    ]


def fleet_observe(target: Target, status: DeviceStatus) -> None:
    printer = Printer.objects.select_related("current_run").get(pk=target.key)
    printer_observe(printer=printer, status=status)


def fleet_link_build(
    *, site: str = "", shard: tuple[int, int] = (0, 1), threads: int = 8
) -> FleetLink:
    """A fleet link over `fleet_targets(site=, shard=)`, polling every FARM_POLL_SECONDS."""
    return FleetLink(
        targets=lambda: fleet_targets(site=site, shard=shard),
        observe=fleet_observe,
        poll_seconds=settings.FARM_POLL_SECONDS,
        threads=threads,
    )


def fleet_serial_ports(*, site: str = "", shard: tuple[int, int] = (0, 1)) -> list[PortConfig]:
    """The USB printers among the targets, for the serial host in the fleet link's process."""
    targets = fleet_targets(site=site, shard=shard)
    return [PortConfig(t.device_id, t.settings) for t in targets if t.kind == "serial"]
