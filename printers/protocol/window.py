"""What to send next: the send window, resends, probes and acknowledgements as pure functions.

Marlin answers the lines it receives in order, one answer per line: an accepted line gets `ok`,
a rejected one gets `Error:...`, `Resend: <n>` and then `ok`. So the host keeps the lines in
flight in a FIFO, and each `ok` retires the oldest one. After a rejection every later line in
flight is rejected too (the firmware wants line n first), each with its own `Resend: n`; those
answers are stale and must not rewind the stream again, or lines would be sent many times. Each
rewind starts a new epoch, and a Resend for a line sent in an older epoch is ignored.

A line counts as acknowledged only when it is the next one in order (`last_acked + 1`), so by
construction every line is acknowledged once and in order, whatever the wire does.

A cancel abandons the stream (`abandon`): lines numbered below `floor` are never sent again and
their loss rewinds nothing; the host then renumbers with `M110`, which Marlin accepts whatever
line it expected, so the cancel script does not wait behind a line the firmware never got.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from printers.protocol.firmware import FirmwareInfo
from printers.protocol.responses import Ok

# Marlin's default command buffer (BUFSIZE) is 4; with ADVANCED_OK the `B` field says how many
# slots are free, so keeping 4 in flight never overruns it.
ADVANCED_OK_WINDOW = 4


@dataclass(frozen=True, slots=True)
class Flight:
    number: int | None  # None: an unnumbered probe (M105), which gets `ok T:...`
    epoch: int


@dataclass(frozen=True, slots=True)
class Window:
    limit: int = 1
    next_number: int = 0  # the number the next new line gets
    resend_from: int | None = None  # resend history from here up to next_number - 1
    in_flight: tuple[Flight, ...] = ()
    epoch: int = 0
    head_rejected: bool = False  # the oldest line in flight got a Resend; its ok is no ack
    last_acked: int = -1
    buffer_free: int | None = None  # `B` of the last ADVANCED_OK answer
    floor: int = 0  # lines below this were abandoned (a cancel): never resent


_FIELDS = tuple(f.name for f in fields(Window))


def _with(w: Window, **changes: Any) -> Window:
    """dataclasses.replace without its per-call field introspection: this runs per line."""
    for name in _FIELDS:
        if name not in changes:
            changes[name] = getattr(w, name)
    return Window(**changes)


def window_limit(firmware: FirmwareInfo | None, configured: int | None) -> int:
    """A configured window wins; ADVANCED_OK firmware gets its buffer size; anything else one."""
    if configured is not None:
        return max(1, configured)
    if firmware is not None and firmware.advanced_ok:
        return ADVANCED_OK_WINDOW
    return 1


def should_fall_back(*, limit: int, resends: int, lines: int) -> bool:
    """Windowed streaming that keeps getting lines rejected (an overrun receive buffer, a
    firmware that lies about ADVANCED_OK) costs more than it wins: go back to one in flight.
    Decided over a recent span of at least 50 lines, at more than one resend in ten lines."""
    return limit > 1 and lines >= 50 and resends * 10 > lines


def capacity(w: Window) -> int:
    """Lines that may be in flight now: the window, or less when ADVANCED_OK says so."""
    if w.buffer_free is None:
        return w.limit
    return min(w.limit, max(w.buffer_free, 1))


def can_send(w: Window) -> bool:
    return len(w.in_flight) < capacity(w)


def next_to_send(w: Window) -> tuple[int, bool]:
    """(line number, whether it is a resend from history) of the next line to put on the wire."""
    if w.resend_from is not None:
        return w.resend_from, True
    return w.next_number, False


def sent(w: Window) -> Window:
    number, resend = next_to_send(w)
    flights = (*w.in_flight, Flight(number, w.epoch))
    if resend:
        following = number + 1
        return _with(
            w,
            in_flight=flights,
            resend_from=following if following < w.next_number else None,
        )
    return _with(w, in_flight=flights, next_number=number + 1)


def probe_sent(w: Window) -> Window:
    return _with(w, in_flight=(*w.in_flight, Flight(None, w.epoch)))


def probes_in_flight(w: Window) -> int:
    return sum(1 for f in w.in_flight if f.number is None)


def on_stall(w: Window) -> Window:
    """A timeout with only probes in flight: they were lost, or answered in a way not known
    for a probe's (a garbled or rejected M105 gets a plain `ok`, and the VirtualPrinter's
    random resends hit probes too), which would hold the window for ever. Nothing numbered
    waits behind them, so forget them before the next probe."""
    if w.in_flight and all(f.number is None for f in w.in_flight):
        return _with(w, in_flight=(), head_rejected=False)
    return w


def abandon(w: Window) -> Window:
    """Give up every line not yet acknowledged (a cancel): nothing before `next_number` is
    resent, and the lines still in flight only wait for their answers, which acknowledge
    nothing. The host sends `M110 N<next_number>` next, so the firmware agrees."""
    return _with(
        w,
        floor=w.next_number,
        last_acked=w.next_number - 1,
        resend_from=None,
        epoch=w.epoch + 1,
    )


def on_ok(w: Window, ok: Ok) -> Window:
    if not w.in_flight:
        return w  # an ok nobody waits for (after a reset, or a firmware's extra ok)
    if ok.temperatures and any(f.number is None for f in w.in_flight):
        return _probe_answered(w, ok)
    head, rest = w.in_flight[0], w.in_flight[1:]
    last = w.last_acked
    if not w.head_rejected and head.number is not None and head.number == last + 1:
        last = head.number
    return _with(
        w,
        in_flight=rest,
        head_rejected=False,
        last_acked=last,
        buffer_free=ok.buffer_free if ok.buffer_free is not None else w.buffer_free,
    )


def _probe_answered(w: Window, ok: Ok) -> Window:
    """The firmware answers in order, so numbered lines sent before the probe that are still
    unanswered when the probe's answer arrives never reached it: rewind to the oldest."""
    probe_at = next(i for i, f in enumerate(w.in_flight) if f.number is None)
    lost = [
        f.number for f in w.in_flight[:probe_at] if f.number is not None and f.number >= w.floor
    ]
    rest = w.in_flight[probe_at + 1 :]
    if not lost:
        return _with(w, in_flight=rest, head_rejected=False)
    oldest = min(lost)
    return _with(
        w,
        in_flight=tuple(f for f in rest if f.number is None),
        resend_from=oldest,
        epoch=w.epoch + 1,
        head_rejected=False,
    )


def on_resend(w: Window, number: int) -> Window:
    """`Resend: number`: the firmware accepted everything before `number` and wants it next."""
    head = w.in_flight[0] if w.in_flight else None
    if (head is not None and head.epoch != w.epoch) or number < w.floor:
        # Stale: this stream was already rewound, or the line was abandoned by a cancel.
        return _with(w, head_rejected=head is not None)
    # A Resend that names a later line than we think proves the lines before it arrived
    # (their oks were lost on the way back).
    last = max(w.last_acked, min(number, w.next_number) - 1)
    return _with(
        w,
        head_rejected=head is not None,
        resend_from=number if number < w.next_number else None,
        epoch=w.epoch + 1,
        last_acked=last,
    )
