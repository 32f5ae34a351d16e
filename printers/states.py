"""One enum of device states, and named groups of them.

Each driver maps its own states onto this enum in one lookup table. These are what the device
reports; whether the bed is clear and whether a run is assigned are the farm's business.
"""

from __future__ import annotations

from enum import StrEnum


class DeviceState(StrEnum):
    OFFLINE = "offline"  # not reachable, or no connection to the printer
    CONNECTING = "connecting"
    READY = "ready"  # connected, idle, can start a print
    STARTING = "starting"  # print accepted, heating or about to move
    PRINTING = "printing"
    PAUSING = "pausing"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    FINISHED = "finished"  # the last print ended normally; the device is idle again
    ERROR = "error"  # the firmware or host reports a fault; needs a person


PRINTING_STATES = frozenset({DeviceState.STARTING, DeviceState.PRINTING, DeviceState.PAUSING})
PAUSED_STATES = frozenset({DeviceState.PAUSED})
ACTIVE_STATES = PRINTING_STATES | PAUSED_STATES | {DeviceState.CANCELLING}
IDLE_STATES = frozenset({DeviceState.READY, DeviceState.FINISHED})
ERROR_STATES = frozenset({DeviceState.ERROR})
UNREACHABLE_STATES = frozenset({DeviceState.OFFLINE, DeviceState.CONNECTING})
