"""What an operator (or the farm) can ask of a printer besides starting a print.

`Driver.run_command` maps each to the driver's method; the values travel as task arguments and
URL segments, so they stay plain strings on the wire.
"""

from __future__ import annotations

from enum import StrEnum


class PrinterCommand(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    CLEAR_ERROR = "clear_error"  # an operator fixed the fault and cleared the bed
    # M112 at once: the firmware halts and needs a reset. Never part of cancel; serial only so far.
    EMERGENCY_STOP = "emergency_stop"
    CONNECT = "connect"  # ask the printer's host (OctoPrint) to connect to the printer
