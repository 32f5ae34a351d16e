"""When to probe a firmware that stopped acknowledging, and when to give up on it.

The communication timeout runs from the last *progress* (an `ok` or a `Resend:`, or a `busy:`
that says the firmware is still working on a line), never from the last byte: an idle `wait`
every second or a temperature auto-report says the firmware is alive, not that it got our
line. Marlin on a noisy cable (and OctoPrint's VirtualPrinter by default, at line 105) can lose
one `ok`; a host that resets its timeout on any byte then waits for ever.

On a timeout the host sends an unnumbered M105. Its `ok T:...` comes back in order, after the
answers to every line sent before it, so the lines still unanswered then were lost (or their
`ok`s were): `window` rewinds to them, and the firmware's line numbers keep a line that did
arrive from running twice (it answers `Resend:` for the next one instead). This is OctoPrint's
recovery (on a timeout while printing it sends M105 and frees a send slot) without assuming
which of the two was lost.

A wire error (`Error:checksum mismatch`, `Error:No Line Number ...`) says the firmware
rejected a line; Marlin follows it at once with `Resend:`. When none comes (the VirtualPrinter
answers line 110 that way by default), waiting the whole timeout for it is pointless: the probe
goes out `REJECTED_GRACE_S` after the error.

Only timeouts with nothing heard at all count towards giving up: a firmware that heats for two
minutes (M109) and reports temperatures meanwhile is busy, not gone. While it talks, at most
`MAX_PROBES` probes wait in its queue, so a long command does not fill its receive buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

MAX_PROBES = 3
REJECTED_GRACE_S = 1.0


class StallAction(StrEnum):
    NONE = ""  # not stalled
    PROBE = "probe"  # send M105
    WAIT = "wait"  # stalled, but the firmware talks and enough probes wait in its queue
    GIVE_UP = "give_up"  # nothing heard for max_timeouts probes: the firmware is gone


@dataclass(frozen=True, slots=True)
class Watchdog:
    last_progress: float = 0.0  # monotonic seconds of the last ok, Resend or busy
    last_heard: float = 0.0  # of the last byte of any kind
    silent: int = 0  # timeouts in a row with nothing heard at all
    rejected: bool = False  # a wire error since the last progress: its Resend is due now


def started(now: float) -> Watchdog:
    return Watchdog(last_progress=now, last_heard=now)


def heard(d: Watchdog, now: float) -> Watchdog:
    return replace(d, last_heard=now, silent=0)


def rejected(d: Watchdog) -> Watchdog:
    """A wire error: the Resend that should follow it is due at once."""
    return replace(d, rejected=True)


def progressed(d: Watchdog, now: float) -> Watchdog:
    """An ok, a Resend, or busy: the firmware works on our lines; the timeout starts again."""
    return Watchdog(last_progress=now, last_heard=now, silent=0)


def check(
    d: Watchdog,
    now: float,
    *,
    timeout_s: float,
    in_flight: int,
    probes_in_flight: int,
    max_timeouts: int,
) -> tuple[Watchdog, StallAction]:
    """What to do now. With nothing in flight nobody waits for an answer: no timeout runs."""
    if in_flight == 0:
        return Watchdog(last_progress=now, last_heard=d.last_heard), StallAction.NONE
    waited = min(timeout_s, REJECTED_GRACE_S) if d.rejected else timeout_s
    if now - d.last_progress < waited:
        return d, StallAction.NONE
    if now - d.last_heard >= timeout_s:
        silent = d.silent + 1
        action = StallAction.GIVE_UP if silent > max_timeouts else StallAction.PROBE
        return Watchdog(last_progress=now, last_heard=d.last_heard, silent=silent), action
    action = StallAction.PROBE if probes_in_flight < MAX_PROBES else StallAction.WAIT
    return Watchdog(last_progress=now, last_heard=d.last_heard, silent=0), action
