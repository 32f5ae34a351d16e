"""Printer drivers: one interface (`base.Driver`), a registry of kinds, and the kinds."""

from __future__ import annotations

from printers.commands import PrinterCommand
from printers.drivers.base import (
    Capabilities,
    DeviceStatus,
    Driver,
    DriverError,
    PermanentDriverError,
    TransientDriverError,
    driver_for,
    driver_kinds,
)

__all__ = [
    "Capabilities",
    "DeviceStatus",
    "Driver",
    "DriverError",
    "PermanentDriverError",
    "PrinterCommand",
    "TransientDriverError",
    "driver_for",
    "driver_kinds",
]
