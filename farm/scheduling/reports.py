"""Farm reports as pure functions over plain records, for the dashboard (`farm_report`).

The farm passes what it has in the database (submitted/finished times, runs with printer,
site, model, start and end); nothing here knows about Django.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True)
class RunRecord:
    site: str
    model: str
    printer_id: int
    start: float
    end: float
    pieces: int = 1


def share_finished_within(
    jobs: list[tuple[float, float | None]], *, days: float, now: float
) -> float | None:
    """Of jobs submitted at least `days` ago, the share finished within `days` of submission.

    `jobs` holds (submitted, finished or None). Younger jobs are left out: they still have
    time, and counting them would make a busy week look better or worse than it was.
    """
    window = days * DAY
    old = [(s, f) for s, f in jobs if now - s >= window]
    if not old:
        return None
    return sum(1 for s, f in old if f is not None and f - s <= window) / len(old)


def utilisation(
    runs: list[RunRecord], printers: dict[int, tuple[str, str]], *, start: float, end: float
) -> dict[str, dict[str, float]]:
    """Share of [start, end) printers spent printing, per site and per model.

    `printers` maps printer id -> (site, model) for every printer, idle ones included.
    """
    span = max(end - start, 1e-9)
    busy: dict[int, float] = defaultdict(float)
    for r in runs:
        busy[r.printer_id] += max(0.0, min(r.end, end) - max(r.start, start))
    out: dict[str, dict[str, float]] = {"site": {}, "model": {}}
    for key, index in (("site", 0), ("model", 1)):
        groups: dict[str, list[float]] = defaultdict(list)
        for pid, info in printers.items():
            groups[info[index]].append(busy.get(pid, 0.0) / span)
        out[key] = {name: sum(v) / len(v) for name, v in sorted(groups.items())}
    return out


def throughput_per_day(runs: list[RunRecord], *, start: float, days: int) -> list[int]:
    """Pieces finished on each day from `start`."""
    out = [0] * days
    for r in runs:
        day = int((r.end - start) // DAY)
        if 0 <= day < days:
            out[day] += r.pieces
    return out
