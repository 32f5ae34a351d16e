"""The rules behind maintenance, failure flags and quiet hours, in plain Python (no Django),
so they are tested from tables of numbers."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Usage:
    """What a printer did since a schedule's work was last done."""

    print_hours: float
    runs: int
    days: float


@dataclass(frozen=True)
class Interval:
    print_hours: float | None
    runs: int | None
    days: float | None


@dataclass(frozen=True)
class Due:
    share: float  # of the tightest interval used up: 1.0 and over is due
    what: str  # which interval, in words: "412 of 400 print hours"


def due_share(usage: Usage, interval: Interval) -> Due:
    """How far a printer is towards its next maintenance: the largest share of any interval
    (whichever of hours, runs or days comes first)."""
    candidates: list[tuple[float, str]] = []
    if interval.print_hours:
        candidates.append(
            (
                usage.print_hours / interval.print_hours,
                f"{usage.print_hours:.0f} of {interval.print_hours:g} print hours",
            )
        )
    if interval.runs:
        candidates.append((usage.runs / interval.runs, f"{usage.runs} of {interval.runs} runs"))
    if interval.days:
        candidates.append(
            (usage.days / interval.days, f"{usage.days:.0f} of {interval.days:g} days")
        )
    if not candidates:
        return Due(0.0, "no interval")
    share, what = max(candidates)
    return Due(share, what)


@dataclass(frozen=True)
class Outcomes:
    runs: int
    failed: int

    @property
    def rate(self) -> float:
        return self.failed / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class FailureFlag:
    flagged: bool
    rate: float
    baseline: float  # the rate it is compared with (its model's other printers, or the farm's)
    why: str


def failure_flag(
    printer: Outcomes,
    peers: Outcomes,
    farm: Outcomes,
    *,
    min_runs: int,
    factor: float = 2.0,
    margin: float = 0.1,
) -> FailureFlag:
    """Flag a printer that fails well more often than its peers (the other printers of its
    model; the rest of the farm when they have too few runs to compare with).

    Both a ratio and an absolute margin must be passed: 2 failures in 10 against 0.5 % is a
    large ratio but may be chance; 30 % against 25 % is a margin but is the model's normal.
    Below `min_runs` nothing is flagged: a new printer's first failure says little.
    """
    base = peers if peers.runs >= min_runs else farm
    baseline = base.rate
    rate = printer.rate
    if printer.runs < min_runs:
        return FailureFlag(False, rate, baseline, f"only {printer.runs} runs")
    flagged = rate >= baseline * factor and rate - baseline > margin
    whose = "its model" if base is peers else "the farm"
    why = f"{rate:.0%} of {printer.runs} runs failed, {whose} {baseline:.0%}"
    return FailureFlag(flagged, rate, baseline, why)


def in_quiet_hours(
    at: datetime.datetime, *, start_hour: int | None, end_hour: int | None, tz: str
) -> bool:
    """Is `at` (aware) within quiet hours [start, end) in the time zone `tz`? A span may run
    past midnight (22-7)."""
    if start_hour is None or end_hour is None or start_hour == end_hour:
        return False
    hour = at.astimezone(zoneinfo.ZoneInfo(tz)).hour
    if start_hour < end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour


def quiet_hours_end(
    at: datetime.datetime, *, start_hour: int | None, end_hour: int | None, tz: str
) -> datetime.datetime:
    """The first moment at or after `at` outside quiet hours (`at` itself when outside)."""
    if not in_quiet_hours(at, start_hour=start_hour, end_hour=end_hour, tz=tz):
        return at
    assert end_hour is not None
    local = at.astimezone(zoneinfo.ZoneInfo(tz))
    end = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    if end <= local:
        end += datetime.timedelta(days=1)
    # Wall-clock arithmetic: across a DST change the hour is still the local end hour.
    return end.replace(tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(datetime.UTC)


def url_hint(url: str) -> str:
    """What may be shown of a notification URL: its scheme and host, never the rest (user
    names, passwords, tokens and webhook paths are secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "(unreadable URL)"
    scheme = parts.scheme or "?"
    # Many services put a token where a host would be (slack://TokenA/...): only a name with
    # a dot (a DNS name or an address) is taken for a host.
    return f"{scheme}://{host}/…" if "." in host else f"{scheme}://…"
