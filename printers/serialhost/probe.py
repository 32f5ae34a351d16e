"""Ask a serial printer who it is (M115), once, for verification when a printer is added.

Opens the port, does the same handshake the serial host does, and closes it again. Do not
probe a port the serial host is printing on: two processes on one port garble both.
"""

from __future__ import annotations

import time

from printers.drivers.base import TransientDriverError
from printers.protocol.firmware import FirmwareInfo
from printers.serialhost.host import SerialHost
from printers.serialhost.link import PortLink
from printers.serialhost.settings import LinkSettings
from printers.states import DeviceState


def probe_firmware(settings: LinkSettings, *, timeout_s: float = 15.0) -> FirmwareInfo:
    link = PortLink("probe", settings)
    if not link.connect():
        raise TransientDriverError(link.message)
    host = SerialHost([link], tick_s=0.02)
    deadline = time.monotonic() + timeout_s
    try:
        while link.state is DeviceState.CONNECTING and time.monotonic() < deadline:
            host.run_once()
    finally:
        if link.port is not None:
            link.port.close()
    if link.firmware is None:
        raise TransientDriverError(
            f"no M115 answer on {settings.port} at {settings.baud} baud ({link.message or 'timed out'})"
        )
    return link.firmware
