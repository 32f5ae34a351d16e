"""Printer drivers. Importing this package registers the built-in kinds."""

from __future__ import annotations

from printers.drivers import simulated  # noqa: F401
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
    "TransientDriverError",
    "driver_for",
    "driver_kinds",
]
