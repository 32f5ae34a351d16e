"""One printer on one serial port: the small I/O loop around `printers.protocol`.

The link never blocks: the host's selector says when the port is readable, and `on_readable`,
`pump` and `tick` each do a little work and return. Every decision about what to send is made
by the pure functions in `printers.protocol.window`; this module only moves bytes, keeps the
history of sent lines for resends, and keeps the job's books.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import serial

from printers.protocol import watchdog as wd
from printers.protocol import window as win
from printers.protocol.firmware import FirmwareInfo, parse_capability_report
from printers.protocol.lines import GcodeProgram, frame
from printers.protocol.responses import (
    Busy,
    FirmwareError,
    Ok,
    Resend,
    Started,
    TemperatureReport,
    parse_response,
)
from printers.serialhost.settings import LinkSettings
from printers.states import ACTIVE_STATES, IDLE_STATES, PAUSED_STATES, PRINTING_STATES, DeviceState

log = logging.getLogger(__name__)

HISTORY = 256  # sent lines kept for resends; Marlin only ever asks for the oldest in flight


class JobOutcome(StrEnum):
    PRINTING = "printing"  # not over yet
    FINISHED = "finished"
    FAILED = "failed"  # the firmware halted
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the port went away or the board restarted


class _Mark(StrEnum):
    """What an acknowledged line completes (on the last line of an injected sequence)."""

    NONE = ""
    HANDSHAKE = "m115"
    PAUSED = "paused"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobReport:
    """The books of one print: what a run records when it ends."""

    job_name: str
    outcome: JobOutcome = JobOutcome.PRINTING
    message: str = ""
    lines_total: int = 0
    lines_acked: int = 0
    lines_sent: int = 0  # including resent ones
    resends: int = 0  # times the firmware asked to go back
    errors: int = 0  # Error: lines (wire errors included)
    started_at: float = 0.0  # wall clock
    ended_at: float | None = None


@dataclass
class _Counts:
    """The counters of `JobReport` that change on every line, kept mutable while it runs.

    `job` folds them into the frozen report; replacing the report on every acknowledged line
    instead would cost about 6 µs a line, a hundred times an increment.
    """

    lines_acked: int = 0
    lines_sent: int = 0
    resends: int = 0
    errors: int = 0


@dataclass(frozen=True)
class LinkStatus:
    device_id: str
    port: str
    state: DeviceState
    message: str = ""
    progress: float | None = None
    temperatures: dict[str, float] | None = None
    firmware: str = ""
    capabilities: dict[str, bool] | None = None
    firmware_fields: dict[str, str] | None = None  # the M115 report; None before a handshake
    window: int = 1
    job: JobReport | None = None
    published_at: float = 0.0  # wall clock of the host's last report: its heartbeat


def open_serial(port: str, baud: int) -> serial.Serial:
    """pyserial opens and configures the port (raw mode, baud, non-blocking).

    The link then reads and writes the port's file descriptor itself: pyserial's read() and
    write() add a select() per call, which at 50 busy ports costs more than the work.
    """
    # exclusive: an flock, so a second opener that also asks for it (the verification probe)
    # fails at open, before it configures the port or writes a byte to a printer mid-print.
    return serial.Serial(port, baud, timeout=0, write_timeout=0, exclusive=True)


class PortLink:
    def __init__(
        self,
        device_id: str,
        settings: LinkSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        opener: Callable[[str, int], Any] = open_serial,
    ) -> None:
        self.device_id = device_id
        self.settings = settings
        self._clock, self._wall, self._opener = clock, wall, opener
        self.port: Any = None
        self.state = DeviceState.OFFLINE
        self.message = "not connected yet"
        self.window = win.Window()
        self.firmware: FirmwareInfo | None = None
        self.temperatures: dict[str, float] = {}
        self._job: JobReport | None = None  # the current or last print, but for its counts
        self._counts = _Counts()
        self._program: GcodeProgram | None = None
        self._program_next = 0  # index of the next program command to send
        self._history: dict[int, tuple[str, int | None, _Mark]] = {}  # number -> cmd, index, mark
        self._injected: deque[tuple[str, _Mark]] = deque()  # (command, mark) before the program
        self._rx = b""
        self._fd = -1
        self._pending = bytearray()  # written to the port but not yet taken by the driver
        self._report_lines: list[str] = []
        self._watchdog = wd.Watchdog()
        self._connect_started = 0.0
        self._reconnect_at = 0.0
        self._next_temp_poll = 0.0
        self._span_lines = self._span_resends = 0  # for falling back to one line in flight
        self._waiting_start: tuple[str, GcodeProgram] | None = None

    @property
    def job(self) -> JobReport | None:
        return replace(self._job, **vars(self._counts)) if self._job is not None else None

    # ---- connection --------------------------------------------------------------------

    def fileno(self) -> int | None:
        return self.port.fileno() if self.port is not None else None

    def connect(self) -> bool:
        """Open the port and start the handshake (M110 N0, M115). False when it is not there."""
        now = self._clock()
        self._reconnect_at = now + self.settings.reconnect_interval_s
        if not os.path.exists(self.settings.port):
            self.message = f"{self.settings.port} is not there (unplugged?)"
            return False
        try:
            self.port = self._opener(self.settings.port, self.settings.baud)
            self.port.reset_input_buffer()
            self._fd = self.port.fileno()
        except (serial.SerialException, OSError) as exc:
            self.port = None
            self.message = f"cannot open {self.settings.port}: {exc}"
            return False
        self._handshake(now)
        return True

    def _handshake(self, now: float) -> None:
        self.state = DeviceState.CONNECTING
        self.message = ""
        self.window = win.Window(limit=1)
        self._history.clear()
        self._injected.clear()
        self._injected.extend([("M110 N0", _Mark.NONE), ("M115", _Mark.HANDSHAKE)])
        self._report_lines = []
        self._rx = b""
        self._pending.clear()
        self._connect_started = now
        self._watchdog = wd.started(now)

    def close(self) -> None:
        """The host is shutting down: let go of the port (a print in progress is interrupted)."""
        if self.port is not None:
            self._lost("the serial host stopped")

    def _lost(self, reason: str) -> None:
        if self.port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self.port.close()
        self.port = None
        self._pending.clear()
        self._waiting_start = None
        self._reconnect_at = self._clock() + self.settings.reconnect_interval_s
        if self.state in ACTIVE_STATES:
            self._end_job(
                JobOutcome.INTERRUPTED, f"{reason}; print interrupted at {self._percent()}"
            )
        self.state = DeviceState.OFFLINE
        self.message = reason
        log.warning("%s: %s", self.device_id, reason)

    # ---- jobs --------------------------------------------------------------------------

    def start_job(self, job_name: str, program: GcodeProgram) -> None:
        if self._job is not None and self._job.job_name == job_name:
            return  # a repeated dispatch of the same run
        if self.state is DeviceState.CONNECTING and self._job is None:
            # Dispatch saw it ready a moment ago and the port was reopened since (a reset):
            # start as soon as the handshake is done rather than refuse.
            self._waiting_start = (job_name, program)
            return
        if self.state not in IDLE_STATES:
            raise RuntimeError(f"cannot start {job_name}: printer is {self.state.value}")
        self._program, self._program_next = program, 0
        self._job = JobReport(job_name, lines_total=len(program.commands), started_at=self._wall())
        self._counts = _Counts()
        self.state = DeviceState.PRINTING
        self.message = ""
        self._finish_if_done()

    def pause(self) -> None:
        if self.state is DeviceState.PRINTING:
            self.state = DeviceState.PAUSING
            self._inject(self.settings.pause_gcode or ("M400",), _Mark.PAUSED)
            self._unstick()

    def resume(self) -> None:
        if self.state in (DeviceState.PAUSED, DeviceState.PAUSING):
            self._inject(self.settings.resume_gcode, _Mark.NONE)
            self.state = DeviceState.PRINTING

    def cancel(self) -> None:
        """Drop every queued line, then send the cancel script, even when the window is stuck:
        the lines still in flight are abandoned (never resent), a probe frees the window at
        its answer, and `M110` renumbers so the script does not wait for a lost line."""
        if self.state in PRINTING_STATES | PAUSED_STATES:
            self._end_job(JobOutcome.CANCELLED, "cancelled")
            self._program_next = len(self._program.commands) if self._program else 0
            self._injected.clear()
            self.window = win.abandon(self.window)
            self.state = DeviceState.CANCELLING
            script = self.settings.cancel_gcode or ("M400",)
            self._inject((f"M110 N{self.window.next_number}", *script), _Mark.CANCELLED)
            self._unstick()

    def emergency_stop(self) -> None:
        """M112 at once, outside the window (Marlin's emergency parser acts on it on receipt):
        the firmware halts, heaters and motors off, and needs a reset (clear_error) after."""
        if self.port is None:
            return
        self._write(b"M112\n")
        if self.state in ACTIVE_STATES:
            self._end_job(JobOutcome.CANCELLED, "emergency stop (M112)")
        self._program_next = len(self._program.commands) if self._program else 0
        self._injected.clear()
        self.window = win.abandon(self.window)
        self.state = DeviceState.ERROR
        self.message = "emergency stop (M112): reset the printer, then clear the error"

    def _unstick(self) -> None:
        """An operator waits: probe now rather than at the timeout, in case an ok was lost.
        The probe's answer comes after those of the lines in flight, so it costs nothing when
        none was."""
        if (
            self.port is not None
            and self.window.in_flight
            and not win.probes_in_flight(self.window)
        ):
            self._probe()

    def clear_error(self) -> None:
        """An operator fixed the fault and cleared the bed: forget the job, reset the firmware."""
        if self.state is not DeviceState.ERROR:
            return
        self._job, self._program = None, None
        if self.port is not None:
            self._write(b"M999\n")  # Marlin's "go on after a stop"
            self._handshake(self._clock())

    def _inject(self, commands: tuple[str, ...], mark: _Mark) -> None:
        for i, command in enumerate(commands):
            self._injected.append((command, mark if i == len(commands) - 1 else _Mark.NONE))

    def _end_job(self, outcome: JobOutcome, message: str) -> None:
        job = self._job
        if job is not None and job.outcome is JobOutcome.PRINTING:
            self._job = replace(job, outcome=outcome, message=message, ended_at=self._wall())

    def _finish_if_done(self) -> None:
        if (
            self.state is DeviceState.PRINTING
            and self._job is not None
            and self._counts.lines_acked >= self._job.lines_total
            and not self._injected
        ):
            self._end_job(JobOutcome.FINISHED, "")
            self.state = DeviceState.FINISHED

    def _percent(self) -> str:
        return f"{100 * (self.progress() or 0):.0f}%"

    def progress(self) -> float | None:
        if self._program is None or self._job is None:
            return None
        return self._program.progress(self._counts.lines_acked)

    # ---- I/O ---------------------------------------------------------------------------

    def on_readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(f"serial port {self.settings.port} lost ({exc})")
            return
        if not data:
            # Readable yet empty: the device went away (pyserial says "device reports
            # readiness to read but returned no data").
            self._lost(f"serial port {self.settings.port} lost (no data)")
            return
        self._watchdog = wd.heard(self._watchdog, self._clock())
        lines = (self._rx + data).split(b"\n")
        self._rx = lines.pop()
        for raw in lines:
            self._handle(raw.decode("ascii", "replace").strip())

    def _handle(self, line: str) -> None:
        if not line:
            return
        response = parse_response(line)
        if isinstance(response, Ok | Resend | Busy):
            # Progress: only these restart the communication timeout (watchdog.py says why).
            self._watchdog = wd.progressed(self._watchdog, self._clock())
        if isinstance(response, Ok):
            before = self.window.last_acked
            self.window = win.on_ok(self.window, response)
            if response.temperatures:
                self.temperatures = {k: v[0] for k, v in response.temperatures.items()}
            self._acked(before)
        elif isinstance(response, Resend):
            before, epoch = self.window.last_acked, self.window.epoch
            self.window = win.on_resend(self.window, response.line)
            if self.window.epoch != epoch:
                self._span_resends += 1
                if self._job is not None:
                    self._counts.resends += 1
            self._acked(before)
        elif isinstance(response, FirmwareError):
            self._firmware_error(response)
        elif isinstance(response, TemperatureReport):
            self.temperatures = {k: v[0] for k, v in response.temperatures.items()}
        elif isinstance(response, Started) and self.state is not DeviceState.CONNECTING:
            # The board rebooted under us: a print cannot go on. (While connecting, a boot
            # message is expected: opening the port resets many boards. Restarting the
            # handshake then would mix the answers to the first one into the second; lines
            # lost during the boot are recovered by the time-out probe instead.)
            if self.state in ACTIVE_STATES:
                self._end_job(JobOutcome.INTERRUPTED, "the firmware restarted during the print")
            self._handshake(self._clock())
        elif isinstance(response, Busy):
            pass  # the firmware is alive and working on a line: the timeout starts again
        elif self.state is DeviceState.CONNECTING:
            self._report_lines.append(line)

    def _firmware_error(self, error: FirmwareError) -> None:
        if self._job is not None and self.state in ACTIVE_STATES:
            self._counts.errors += 1
        if error.wire:
            self._watchdog = wd.rejected(self._watchdog)
        if error.halted:
            if self.state in ACTIVE_STATES:
                self._end_job(JobOutcome.FAILED, f"firmware error: {error.text}")
            self.state = DeviceState.ERROR
            self.message = f"firmware error: {error.text}"
        elif not error.wire:
            log.warning("%s: firmware error: %s", self.device_id, error.text)

    def _acked(self, before: int) -> None:
        for number in range(before + 1, self.window.last_acked + 1):
            entry = self._history.get(number)
            if entry is None:
                continue
            _, index, mark = entry
            if index is not None and self._job is not None:
                self._counts.lines_acked = index + 1
            if mark is not _Mark.NONE:
                self._mark_done(mark)
        if self.window.last_acked > HISTORY and self.window.last_acked % HISTORY == 0:
            floor = self.window.last_acked - HISTORY
            for number in [n for n in self._history if n < floor]:
                del self._history[number]
        self._finish_if_done()

    def _mark_done(self, mark: _Mark) -> None:
        if mark is _Mark.HANDSHAKE:
            self.firmware = parse_capability_report(self._report_lines)
            limit = win.window_limit(self.firmware, self.settings.window)
            self.window = replace(self.window, limit=limit)
            self.state, self.message = DeviceState.READY, ""
            job = self._job
            if job is not None and job.outcome in (JobOutcome.INTERRUPTED, JobOutcome.FAILED):
                # Back after an unplug or a reset: half a print is on the bed, so a person must
                # look before the next one starts.
                self.state, self.message = DeviceState.ERROR, job.message
            if self._waiting_start is not None and self.state is DeviceState.READY:
                waiting, self._waiting_start = self._waiting_start, None
                self.start_job(*waiting)
            if self.firmware.autoreport_temp:
                self._inject(
                    (f"M155 S{max(1, round(self.settings.temperature_interval_s))}",), _Mark.NONE
                )
        elif mark is _Mark.PAUSED and self.state is DeviceState.PAUSING:
            self.state = DeviceState.PAUSED
        elif mark is _Mark.CANCELLED and self.state is DeviceState.CANCELLING:
            self.state = DeviceState.READY

    def _next_new(self) -> tuple[str, int | None, _Mark] | None:
        if self._injected:
            command, mark = self._injected.popleft()
            return command, None, mark
        program = self._program
        if (
            self.state is DeviceState.PRINTING
            and program
            and self._program_next < len(program.commands)
        ):
            index = self._program_next
            self._program_next += 1
            return program.commands[index], index, _Mark.NONE
        return None

    def pump(self) -> None:
        """Put on the wire as many lines as the window allows, in one write."""
        if self.port is None or self.state in (DeviceState.OFFLINE, DeviceState.ERROR):
            return
        self._flush_pending()
        if self.port is None:
            return
        out = bytearray()
        sent = 0
        while win.can_send(self.window):
            number, is_resend = win.next_to_send(self.window)
            if is_resend:
                entry = self._history.get(number)
                if entry is None:
                    self._lost(f"the firmware asked for line {number}, which is long gone")
                    return
            else:
                fresh = self._next_new()
                if fresh is None:
                    break
                entry = self._history[number] = fresh
            out += frame(number, entry[0])
            self.window = win.sent(self.window)
            sent += 1
        if out:
            self._check_fall_back(sent)
            if self._job is not None and self.state in ACTIVE_STATES:
                self._counts.lines_sent += sent
            self._write(bytes(out))

    def _check_fall_back(self, sent: int) -> None:
        self._span_lines += sent
        if self._span_lines < 200:
            return
        limit = self.window.limit
        if win.should_fall_back(limit=limit, resends=self._span_resends, lines=self._span_lines):
            log.warning(
                "%s: %d resends in %d lines with %d in flight; falling back to one",
                *(self.device_id, self._span_resends, self._span_lines, limit),
            )
            self.window = replace(self.window, limit=1)
        self._span_lines = self._span_resends = 0

    def _write(self, data: bytes) -> None:
        self._pending += data
        self._flush_pending()

    def _flush_pending(self) -> None:
        if not self._pending or self.port is None:
            return
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            return  # the driver's buffer is full: the rest goes on the next pump or tick
        except OSError as exc:
            self._lost(f"serial port {self.settings.port} lost ({exc})")
            return
        del self._pending[:written]

    def tick(self) -> None:
        """Time-driven work: reconnecting, time-outs with recovery, temperature polling."""
        now = self._clock()
        if self.port is None:
            if now >= self._reconnect_at:
                self.connect()
            return
        connecting = self.state is DeviceState.CONNECTING
        if connecting and now - self._connect_started > self.settings.connect_timeout_s:
            self._lost(f"no answer to M115 on {self.settings.port}")
            return
        # While connecting, lines lost to a board's boot are recovered sooner.
        timeout = 1.0 if self.state is DeviceState.CONNECTING else self.settings.timeout_s
        self._watchdog, action = wd.check(
            self._watchdog,
            now,
            timeout_s=timeout,
            in_flight=len(self.window.in_flight),
            probes_in_flight=win.probes_in_flight(self.window),
            max_timeouts=self.settings.max_timeouts,
        )
        if action is wd.StallAction.GIVE_UP:
            self._lost(f"no answer from the firmware on {self.settings.port}")
            return
        if action is wd.StallAction.PROBE:
            # An unnumbered M105 gets `ok T:...`; lines sent before it and still unanswered
            # then were lost (or their oks were), and the window rewinds to them.
            log.info("%s: no ok for %.0f s; probing with M105", self.device_id, timeout)
            self.window = win.on_stall(self.window)
            self._probe()
        elif action is wd.StallAction.NONE and (
            self.state not in (DeviceState.CONNECTING, DeviceState.ERROR)
            and self.firmware is not None
            and not self.firmware.autoreport_temp
            and now >= self._next_temp_poll
            and win.can_send(self.window)
        ):
            self._next_temp_poll = now + self.settings.temperature_interval_s
            self._probe()

    def _probe(self) -> None:
        self.window = win.probe_sent(self.window)
        self._write(b"M105\n")

    def status(self) -> LinkStatus:
        return LinkStatus(
            device_id=self.device_id,
            port=self.settings.port,
            state=self.state,
            message=self.message,
            progress=self.progress(),
            temperatures=dict(self.temperatures),
            firmware=self.firmware.name if self.firmware else "",
            capabilities=dict(self.firmware.capabilities) if self.firmware else None,
            firmware_fields=dict(self.firmware.fields) if self.firmware else None,
            window=self.window.limit,
            job=self.job,
        )
