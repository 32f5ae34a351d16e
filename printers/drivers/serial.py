"""USB serial printers (Marlin), driven through the serial host.

A print over USB takes hours of streaming, and no Celery task may live that long (DESIGN.md),
so this driver only talks to the serial host: `start`, `pause`, `resume`, `cancel` and
`clear_error` write a `SerialCommand` row that the host serving this printer claims, and
`status` reads the live status the host publishes to the cache. A host that stops publishing
(its heartbeat, `published_at`, older than a few seconds) makes its printers read as offline
with that reason, and `start` refuses at once with a transient error rather than leave a print
waiting for a host that is not there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from printers.drivers.base import (
    Capabilities,
    DeviceStatus,
    Driver,
    PermanentDriverError,
    TransientDriverError,
    register,
)
from printers.models import SerialCommand
from printers.serialhost.channel import HEARTBEAT_STALE_S, heartbeat_age, read_status
from printers.serialhost.link import JobOutcome, JobReport, LinkStatus
from printers.serialhost.settings import LinkSettings, SettingsError
from printers.states import ACTIVE_STATES, UNREACHABLE_STATES, DeviceState

# Outcomes after which the half-printed part needs a person: the print cannot go on.
ENDED_BADLY = frozenset({JobOutcome.INTERRUPTED, JobOutcome.FAILED})


@register
class SerialDriver(Driver):
    kind = "serial"

    def __init__(self, *, device_id: str, settings: dict[str, Any]) -> None:
        super().__init__(device_id=device_id, settings=settings)
        try:
            self.link_settings = LinkSettings.from_dict(settings)
        except SettingsError as exc:
            raise PermanentDriverError(str(exc)) from None

    def _live(self) -> LinkStatus | None:
        return read_status(self.device_id)

    def _no_host(self, live: LinkStatus | None) -> str:
        """Why no serial host serves this printer now, or "" when one does."""
        port = self.link_settings.port
        if live is None:
            return f"no serial host is serving {port} (is the fleet link running?)"
        age = heartbeat_age(live)
        if age > HEARTBEAT_STALE_S:
            return f"no serial host is serving {port}: the fleet link last reported {age:.0f} s ago"
        return ""

    def status(self) -> DeviceStatus:
        live = self._live()
        gone = self._no_host(live)
        if gone or live is None:
            return DeviceStatus(DeviceState.OFFLINE, message=gone)
        job = live.job
        message = live.message
        state = live.state
        if state is DeviceState.OFFLINE and job is not None and job.outcome in ENDED_BADLY:
            # The host's own books say the print stopped half-way (the port went away while it
            # streamed): not a printer that may still be printing, but one a person must see.
            state = DeviceState.ERROR
        if job is not None and job.outcome is not JobOutcome.PRINTING and not message:
            message = f"{job.job_name}: {job.outcome}" + (
                f" ({job.message})" if job.message else ""
            )
        left = None
        if (
            job is not None
            and job.outcome is JobOutcome.PRINTING
            and live.progress
            and live.progress > 0.02
        ):
            # Bytes streamed so far against time taken so far: crude, but it tracks this
            # printer's real speed, which no estimate from the file knows.
            elapsed = max(0.0, time.time() - job.started_at)
            left = elapsed * (1 - live.progress) / live.progress
        return DeviceStatus(
            state,
            job_name=job.job_name if job else "",
            progress=live.progress,
            seconds_left=left,
            temperatures=live.temperatures or {},
            message=message,
        )

    def job_report(self) -> JobReport | None:
        """The books of the current or last print: lines sent and acknowledged, resends, errors."""
        live = self._live()
        return live.job if live else None

    def start(self, *, job_name: str, gcode_path: Path, expected_seconds: float) -> None:
        handed = SerialCommand.objects.filter(
            device_id=self.device_id, kind=SerialCommand.Kind.START, job_name=job_name
        ).first()
        if handed is not None and handed.taken_at is not None and not handed.result:
            return  # the host took it already: a repeated dispatch does nothing
        gone = self._no_host(self._live())
        if gone:
            # Say so now: a row nobody claims would leave the print waiting in silence.
            raise TransientDriverError(f"serial printer not reachable: {gone}")
        if handed is not None and not handed.result:
            return  # handed over already, the host claims it on its next round
        current = self.status()
        if current.state in UNREACHABLE_STATES:
            raise TransientDriverError(f"serial printer not reachable: {current.message}")
        if current.state is DeviceState.ERROR:
            raise PermanentDriverError(f"printer is in error: {current.message}")
        if current.state in ACTIVE_STATES:
            raise TransientDriverError(f"printer is busy with {current.job_name}")
        if not gcode_path.is_file():
            raise PermanentDriverError(f"no such G-code file: {gcode_path.name}")
        if handed is not None:
            # The host refused it before (the printer changed state between our check and its
            # claim): hand it over again.
            SerialCommand.objects.filter(pk=handed.pk).update(
                taken_at=None, result="", gcode_path=str(gcode_path.resolve())
            )
            return
        try:
            with transaction.atomic():
                SerialCommand.objects.create(
                    device_id=self.device_id,
                    kind=SerialCommand.Kind.START,
                    job_name=job_name,
                    gcode_path=str(gcode_path.resolve()),
                )
        except IntegrityError:
            return  # a concurrent dispatch of the same run won the race

    def _command(self, kind: SerialCommand.Kind) -> None:
        SerialCommand.objects.create(device_id=self.device_id, kind=kind)

    def pause(self) -> None:
        self._command(SerialCommand.Kind.PAUSE)

    def resume(self) -> None:
        self._command(SerialCommand.Kind.RESUME)

    def cancel(self) -> None:
        self._command(SerialCommand.Kind.CANCEL)

    def clear_error(self) -> None:
        self._command(SerialCommand.Kind.CLEAR_ERROR)

    def emergency_stop(self) -> None:
        """M112: the firmware halts at once, heaters and motors off; it needs a reset after."""
        SerialCommand.objects.create(
            device_id=self.device_id, kind=SerialCommand.Kind.EMERGENCY_STOP
        )

    def capabilities(self) -> Capabilities:
        live = self._live()
        if live is None:
            return Capabilities()
        return Capabilities(
            firmware=live.firmware,
            extras={"capabilities": live.capabilities or {}, "window": live.window},
        )
