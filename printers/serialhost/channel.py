"""The serial host's link to the farm: commands in from the database, live status out.

Commands are rows of `printers.models.SerialCommand`, claimed with a conditional UPDATE so two
hosts never act on the same one. Live status goes to the cache (not one database write per
poll); an entry expires after `STATUS_TTL_S`, so a host that died shows its printers offline.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from printers.models import SerialCommand
from printers.protocol.lines import load_program
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobReport, LinkStatus, PortLink
from printers.serialhost.settings import LinkSettings
from printers.states import DeviceState

log = logging.getLogger(__name__)

STATUS_TTL_S = 15


def status_key(device_id: str) -> str:
    return f"serialhost:status:{device_id}"


def publish_status(status: LinkStatus) -> None:
    cache.set(status_key(status.device_id), dataclasses.asdict(status), STATUS_TTL_S)


def read_status(device_id: str) -> LinkStatus | None:
    raw: dict[str, Any] | None = cache.get(status_key(device_id))
    if raw is None:
        return None
    job = JobReport(**raw["job"]) if raw.get("job") else None
    return LinkStatus(**{**raw, "state": DeviceState(raw["state"]), "job": job})


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
    except (RuntimeError, OSError) as exc:
        return str(exc)[:300]
    return ""


def channel_tick(host: SerialHost) -> None:
    """One round of the channel: take commands for our printers, apply them, publish status."""
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


def build_host(ports: list[PortConfig], **options: Any) -> SerialHost:
    """A serial host for these printers, wired to the command channel and the status cache.

    The fleet link runs `host.serve()` for the serial printers of its shard (in a thread of its
    own, or a process) and calls `host.stop()` on SIGTERM: the loop finishes its iteration.
    """
    links = [PortLink(p.device_id, LinkSettings.from_dict(p.settings)) for p in ports]
    return SerialHost(links, on_tick=channel_tick, **options)
