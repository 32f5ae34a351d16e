"""The communication timeout, from data tables: it runs from the last progress (ok, Resend,
busy), not from the last byte, and gives up only after timeouts with nothing heard at all."""

from __future__ import annotations

import pytest

from printers.protocol import watchdog as wd
from printers.protocol.watchdog import StallAction

TIMEOUT = 5.0  # the production default (LinkSettings.timeout_s)


def play(script: str) -> list[StallAction]:
    """Events at times: `ok@t` progress, `rx@t` any other byte (wait, a temperature report),
    `check@t` a tick with one line in flight, `idle@t` a tick with nothing in flight,
    `probe` one more M105 waiting in the firmware's queue, `error` a wire error. Returns each check's action."""
    d = wd.started(0.0)
    probes = 0
    actions: list[StallAction] = []
    for event in script.split():
        name, _, at = event.partition("@")
        now = float(at or 0)
        if name == "ok":
            d = wd.progressed(d, now)
        elif name == "rx":
            d = wd.heard(d, now)
        elif name == "error":
            d = wd.rejected(d)
        elif name == "probe":
            probes += 1
        elif name in ("check", "idle"):
            d, action = wd.check(
                d,
                now,
                timeout_s=TIMEOUT,
                in_flight=1 if name == "check" else 0,
                probes_in_flight=probes,
                max_timeouts=4,
            )
            actions.append(action)
    return actions


P, W, G, N = StallAction.PROBE, StallAction.WAIT, StallAction.GIVE_UP, StallAction.NONE


@pytest.mark.parametrize(
    ("name", "script", "actions"),
    [
        ("answered in time", "ok@1 check@5.9", [N]),
        ("no ok for the timeout: probe", "ok@1 check@6.1", [P]),
        # The bug of issue 9: an idle `wait` every second kept a byte-based timeout from ever
        # elapsing while the firmware had dropped one ok.
        ("waits every second do not hold it off", "ok@1 rx@2 rx@3 rx@4 rx@5 rx@6 check@6.1", [P]),
        ("temperature reports neither", "ok@1 rx@5.5 check@6.2", [P]),
        (
            "after a probe, the next one a timeout later",
            "ok@0 check@5 probe check@7 check@10",
            [P, N, P],
        ),
        ("busy (progress) extends the wait", "ok@0 ok@4 check@6 ok@8 check@12", [N, N]),
        (
            "a talking firmware with enough probes queued: wait (a long M109)",
            "check@5 probe rx@6 check@10 probe rx@11 check@15 probe rx@16 check@20 rx@21 check@25",
            [P, P, P, W, W],
        ),
        (
            "silence: give up after max_timeouts probes",
            "check@5 check@10 check@15 check@20 check@25",
            [P, P, P, P, G],
        ),
        (
            "a byte between silent timeouts starts the count again",
            "check@5 check@10 rx@11 check@15 check@20 check@25 check@30",
            [P, P, P, P, P, P],
        ),
        (
            "a wire error without its Resend: probe a second later",
            "ok@0 error check@0.9 check@1.1",
            [N, P],
        ),
        (
            "the Resend came: the usual timeout again",
            "ok@0 error ok@0.1 check@1.2 check@5.2",
            [N, P],
        ),
        ("nothing in flight: no timeout runs", "idle@100 check@104", [N, N]),
    ],
)
def test_the_watchdog(name: str, script: str, actions: list[StallAction]) -> None:
    assert play(script) == actions, name
