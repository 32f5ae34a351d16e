"""The send window, driven by event scripts: `send` puts the next line on the wire, `ok` and
`rs N` are the firmware's answers, `probe` is an unnumbered M105 and `okT` its answer, `cancel`
abandons the lines not yet acknowledged, `stall` is a timeout."""

from __future__ import annotations

import pytest

from printers.protocol import window as win
from printers.protocol.firmware import FirmwareInfo
from printers.protocol.responses import Ok


def play(script: str, w: win.Window) -> tuple[win.Window, list[int]]:
    """Run the events; returns the window and every line number acknowledged, in order."""
    acked: list[int] = []
    for event in script.split():
        before = w.last_acked
        if event == "send":
            assert win.can_send(w), f"window full at {event}"
            w = win.sent(w)
        elif event == "probe":
            w = win.probe_sent(w)
        elif event == "ok":
            w = win.on_ok(w, Ok())
        elif event == "okT":
            w = win.on_ok(w, Ok(temperatures={"tool0": (20.0, 0.0)}))
        elif event.startswith("ok/B"):
            w = win.on_ok(w, Ok(buffer_free=int(event[4:])))
        elif event.startswith("rs"):
            w = win.on_resend(w, int(event[2:]))
        elif event == "stall":
            w = win.on_stall(w)
        elif event == "cancel":
            w = win.abandon(w)
            continue  # abandoned lines are given up, not acknowledged
        acked += range(before + 1, w.last_acked + 1)
    return w, acked


def in_flight(w: win.Window) -> list[int | None]:
    return [f.number for f in w.in_flight]


@pytest.mark.parametrize(
    ("name", "limit", "script", "acked", "next_send", "flying"),
    [
        ("one in flight, all accepted", 1, "send ok send ok send ok", [0, 1, 2], (3, False), []),
        ("four in flight", 4, "send send send send ok ok", [0, 1], (4, False), [2, 3]),
        # Line 1 corrupted: its answer is Error + rs1 + ok, and the two lines behind it are
        # rejected as out of order, each with its own rs1 + ok. Only the first rewinds.
        (
            "a checksum error with three lines behind it",
            4,
            "send send send send ok rs1 ok rs1 ok rs1 ok",
            [0],
            (1, True),
            [],
        ),
        (
            "the rewound lines go out again and are acknowledged once",
            4,
            "send send send ok rs1 ok rs1 ok send send ok ok",
            [0, 1, 2],
            (3, False),
            [],
        ),
        (
            "a resend while resending for the new epoch rewinds again",
            2,
            "send send ok rs1 ok send send rs1 ok",
            [0],
            (1, True),
            [2],
        ),
        (
            "a Resend naming a later line proves a lost ok",
            1,
            "send ok send rs2 ok",
            [0, 1],
            (2, False),
            [],
        ),
        (
            "a probe answered before the line sent before it: the line was lost",
            2,
            "send ok send probe okT",
            [0],
            (1, True),
            [],
        ),
        (
            "a probe with nothing lost just retires itself",
            2,
            "send probe ok okT",
            [0],
            (1, False),
            [],
        ),
        ("a stray ok changes nothing", 1, "ok ok", [], (0, False), []),
        # Line 1 swallowed; the probe is rejected (Error, rs2, ok), which proves 1 arrived but
        # leaves the probe looking unanswered. The next timeout forgets it.
        (
            "a probe answered with a plain ok does not hold the window",
            1,
            "send ok send probe rs2 ok stall",
            [0, 1],
            (2, False),
            [],
        ),
        ("a stall with a line in flight keeps it", 1, "send stall", [], (1, False), [0]),
        # Cancel while stuck: line 1 lost (or its ok). The cancel abandons it; the probe's
        # answer frees the window without a rewind, and the cancel script (2 on) is acked.
        (
            "a cancel with a line stuck in flight abandons it",
            1,
            "send ok send cancel probe okT send ok",
            [0, 2],
            (3, False),
            [],
        ),
        (
            "a Resend for an abandoned line rewinds nothing",
            2,
            "send send cancel rs0 ok ok send ok",
            [2],
            (3, False),
            [],
        ),
        (
            "after a cancel, a lost line of the new stream is resent",
            1,
            "send cancel ok send probe okT",
            [],
            (1, True),
            [],
        ),
    ],
)
def test_the_window(
    name: str,
    limit: int,
    script: str,
    acked: list[int],
    next_send: tuple[int, bool],
    flying: list[int | None],
) -> None:
    w, got = play(script, win.Window(limit=limit))
    assert got == acked, name
    assert win.next_to_send(w) == next_send, name
    assert in_flight(w) == flying, name


def test_a_full_window_sends_no_more() -> None:
    w, _ = play("send send", win.Window(limit=2))
    assert not win.can_send(w)


def test_advanced_ok_buffer_space_limits_the_window() -> None:
    w, _ = play("send send ok/B1", win.Window(limit=4))
    assert in_flight(w) == [1]
    assert not win.can_send(w)
    w, _ = play("ok/B3", w)
    assert win.can_send(w)


@pytest.mark.parametrize(
    ("firmware", "configured", "limit"),
    [
        (None, None, 1),
        (FirmwareInfo(capabilities={"ADVANCED_OK": True}), None, 4),
        (FirmwareInfo(capabilities={"ADVANCED_OK": False}), None, 1),
        (FirmwareInfo(capabilities={"ADVANCED_OK": False}), 3, 3),
        (FirmwareInfo(capabilities={"ADVANCED_OK": True}), 1, 1),
        (None, 0, 1),
    ],
)
def test_the_window_size_comes_from_settings_or_m115(
    firmware: FirmwareInfo | None, configured: int | None, limit: int
) -> None:
    assert win.window_limit(firmware, configured) == limit


@pytest.mark.parametrize(
    ("limit", "resends", "lines", "fall_back"),
    [
        (4, 0, 1000, False),
        (4, 6, 50, True),
        (4, 6, 40, False),
        (1, 50, 100, False),
        (4, 10, 100, False),
    ],
)
def test_it_falls_back_to_one_line_when_windowing_keeps_failing(
    limit: int, resends: int, lines: int, fall_back: bool
) -> None:
    assert win.should_fall_back(limit=limit, resends=resends, lines=lines) is fall_back
