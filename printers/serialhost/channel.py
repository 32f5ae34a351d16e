"""The serial host's link to the farm: commands in from the database, live status out.

Commands are rows of `printers.models.SerialCommand`, claimed with a conditional UPDATE so two
hosts never act on the same one. Live status goes to the cache (not one database write per
poll); an entry expires after `STATUS_TTL_S`, so a host that died shows its printers offline.
Each entry carries the time it was published (`published_at`), the host's heartbeat: one older
than `HEARTBEAT_STALE_S` means no host serves that printer now. The host also says which port
each printer holds (`port_holder`), so verifying a printer never opens a port the host holds.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import close_old_connections, connections
from django.utils import timezone

from printers.models import SerialCommand
from printers.protocol.lines import load_program
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobOutcome, JobReport, LinkStatus, PortLink
from printers.serialhost.settings import LinkSettings, SettingsError
from printers.states import ACTIVE_STATES, DeviceState

log = logging.getLogger(__name__)

STATUS_TTL_S = 15
HEARTBEAT_STALE_S = 5.0  # the host publishes every 0.5 s; this much silence: it is gone


def status_key(device_id: str) -> str:
    return f"serialhost:status:{device_id}"


def port_key(port: str) -> str:
    # /dev/serial/by-id/... and /dev/ttyUSB0 are one device: key by where the link points.
    return f"serialhost:port:{os.path.realpath(port)}"


def publish_status(status: LinkStatus) -> None:
    """The link's status with the time now (the heartbeat), and which port it holds."""
    status = dataclasses.replace(status, published_at=time.time())
    cache.set_many(
        {
            status_key(status.device_id): dataclasses.asdict(status),
            port_key(status.port): status.device_id,
        },
        STATUS_TTL_S,
    )


def read_status(device_id: str) -> LinkStatus | None:
    raw: dict[str, Any] | None = cache.get(status_key(device_id))
    if raw is None:
        return None
    books = raw.get("job")
    job = JobReport(**{**books, "outcome": JobOutcome(books["outcome"])}) if books else None
    return LinkStatus(**{**raw, "state": DeviceState(raw["state"]), "job": job})


def heartbeat_age(status: LinkStatus) -> float:
    """Seconds since the host published this status."""
    return max(0.0, time.time() - status.published_at)


def port_holder(port: str) -> LinkStatus | None:
    """The live status of the printer a serial host serves on this port, or None when no host
    has reported it for `HEARTBEAT_STALE_S`. A served port counts as held even while the
    printer is unplugged: the host opens it again as soon as it appears."""
    device_id: str | None = cache.get(port_key(port))
    status = read_status(device_id) if device_id else None
    if status is None or heartbeat_age(status) > HEARTBEAT_STALE_S:
        return None
    if os.path.realpath(status.port) != os.path.realpath(port):
        return None  # that printer moved to another port since
    return status


def take_commands(device_ids: list[str]) -> list[SerialCommand]:
    """Claim the waiting commands for these printers, oldest first."""
    taken = []
    for command in SerialCommand.objects.filter(device_id__in=device_ids, taken_at=None):
        claimed = SerialCommand.objects.filter(pk=command.pk, taken_at=None).update(
            taken_at=timezone.now()
        )
        if claimed == 1:  # else another host got there first
            taken.append(command)
    return taken


def apply_command(link: PortLink, command: SerialCommand) -> str:
    """Do what the command says; "" when done, else the reason it could not be done."""
    kind = SerialCommand.Kind
    try:
        if command.kind == kind.START:
            link.start_job(command.job_name, load_program(Path(command.gcode_path)))
        elif command.kind == kind.PAUSE:
            link.pause()
        elif command.kind == kind.RESUME:
            link.resume()
        elif command.kind == kind.CANCEL:
            link.cancel()
        elif command.kind == kind.CLEAR_ERROR:
            link.clear_error()
        elif command.kind == kind.EMERGENCY_STOP:
            link.emergency_stop()
    except (RuntimeError, OSError) as exc:
        return str(exc)[:300]
    return ""


def channel_tick(host: SerialHost) -> None:
    """One round of the channel: take commands for our printers, apply them, publish status."""
    close_old_connections()  # a long-lived thread: survive a database restart
    for command in take_commands(list(host.links)):
        result = apply_command(host.links[command.device_id], command)
        if result:
            log.warning("%s: %s failed: %s", command.device_id, command.kind, result)
            SerialCommand.objects.filter(pk=command.pk).update(result=result)
    for link in host.links.values():
        publish_status(link.status())


@dataclasses.dataclass(frozen=True)
class PortConfig:
    device_id: str
    settings: dict[str, Any]


def build_host(
    ports: list[PortConfig],
    *,
    ports_source: Callable[[], list[PortConfig]] | None = None,
    refresh_s: float = 10.0,
    **options: Any,
) -> SerialHost:
    """A serial host for these printers, wired to the command channel and the status cache.

    The fleet link runs `host.serve()` for the serial printers of its shard (in a thread of its
    own, or a process) and calls `host.stop()` on SIGTERM: the loop finishes its iteration.
    With `ports_source`, the host asks it every `refresh_s` which printers to serve, so
    printers added, removed or re-configured in the admin are picked up without a restart.
    """
    links = [PortLink(p.device_id, LinkSettings.from_dict(p.settings)) for p in ports]
    next_refresh = time.monotonic() + refresh_s

    def on_tick(host: SerialHost) -> None:
        nonlocal next_refresh
        if ports_source is not None and time.monotonic() >= next_refresh:
            next_refresh = time.monotonic() + refresh_s
            sync_ports(host, ports_source())
        channel_tick(host)

    return SerialHost(links, on_tick=on_tick, **options)


def sync_ports(host: SerialHost, ports: list[PortConfig]) -> None:
    """Serve exactly these printers. A printer in the middle of a print keeps its link until
    the print ends, even when its settings changed: pulling the port would ruin the print."""
    wanted: dict[str, LinkSettings] = {}
    for p in ports:
        try:
            wanted[p.device_id] = LinkSettings.from_dict(p.settings)
        except SettingsError as exc:
            log.warning("%s: not served: %s", p.device_id, exc)
    for device_id, link in list(host.links.items()):
        if wanted.get(device_id) != link.settings and link.state not in ACTIVE_STATES:
            host.remove(device_id)
    for device_id, settings in wanted.items():
        if device_id not in host.links:
            host.add(PortLink(device_id, settings))


def serve_in_thread(
    ports_source: Callable[[], list[PortConfig]], **options: Any
) -> tuple[SerialHost, threading.Thread]:
    """Run a serial host in a daemon thread of this process (the fleet link) for the printers
    `ports_source` names, asked again every 10 s. Stop it with `host.stop(); thread.join()`."""
    host = build_host(ports_source(), ports_source=ports_source, **options)

    def run() -> None:
        try:
            host.serve()
        finally:
            connections.close_all()  # this thread's own database connections

    thread = threading.Thread(target=run, name="serial-host", daemon=True)
    thread.start()
    return host, thread
