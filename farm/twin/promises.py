"""The twin's promises: each job is promised at the first full plan that holds it, by the
farm's own rules (`farm.scheduling.promises`), held through replans, moved only when the farm
changed, and at the end compared with when the job really finished.

The twin confirms every job as soon as it is quoted (an employee who accepts the quote), so
the lead time of a promise is from that plan to the promised completion.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from farm.scheduling.promises import (
    DEFAULT_SHARE,
    Clearing,
    RunRecord,
    chains_for,
    error_p90,
    history_from,
    hold,
    kept_share,
    promise_for,
)
from farm.scheduling.types import Assignment, PrinterSlot


@dataclass
class _Promised:
    at: float  # when it was promised (confirmed)
    first: float  # the first promise
    planned: float  # the plan's end it was made from (no margin)
    end: float  # the promise now
    moves: int = 0
    # The most any promise could have had of this job within +-10 % of its lead, from its
    # own last print's noise alone (`best_within`; None: no spread given).
    best_within: float | None = None


class PromiseBook:
    def __init__(
        self,
        share: float = DEFAULT_SHARE,
        clearing: Callable[[PrinterSlot], Clearing] | None = None,
        spread: float = 0.0,
    ) -> None:
        self.share = share
        self.clearing = clearing
        self.spread = spread  # the scenario's print-time noise: sigma of log(actual / est.)
        self.records: list[RunRecord] = []
        self.promised: dict[int, _Promised] = {}
        self.disrupted: dict[int, tuple[str, str]] = {}  # job -> (reason, kind of change)
        self.reasons: Counter[str] = Counter()
        self.planned_on: dict[int, set[int]] = {}  # printer -> jobs the last plan put on it

    def promise_of(self, job_id: int) -> float | None:
        mine = self.promised.get(job_id)
        return mine.end if mine is not None else None

    # -- what happens on the farm -----------------------------------------------------------

    def run_ended(self, model: str, planned: float, actual: float, *, failed: bool) -> None:
        self.records.append(RunRecord(model, planned, None if failed else actual, failed))

    def disrupt_printer(self, printer_id: int, jobs: set[int], reason: str, kind: str) -> None:
        """The farm changed on a printer: the jobs on it or planned on it may be later."""
        for job_id in jobs | self.planned_on.get(printer_id, set()):
            if job_id in self.promised:
                self.disrupted.setdefault(job_id, (reason, kind))

    # -- at every full plan -----------------------------------------------------------------

    def replanned(
        self,
        now: float,
        assignments: list[Assignment],
        slots: Mapping[int, PrinterSlot],
        printing_ends: Mapping[int, float],
        open_jobs: set[int],
    ) -> None:
        """Promise the jobs new in this plan, and apply the hold rule to the promised ones
        the farm's changes touched. `printing_ends`: job -> when its runs printing now end."""
        ends: dict[int, float] = dict(printing_ends)
        planned_on: dict[int, set[int]] = defaultdict(set)
        for a in assignments:
            ends[a.job_id] = max(ends.get(a.job_id, a.end), a.end)
            planned_on[a.printer_id].add(a.job_id)
        self.planned_on = planned_on
        fresh = {j for j in ends if j not in self.promised and j in open_jobs}
        later = {j for j in self.disrupted if j in ends and ends[j] > self.promised[j].end}
        if not fresh and not later and not self.disrupted:
            return
        history = history_from(self.records)
        chains = chains_for(fresh | later, assignments, slots, now, self.clearing)
        for j in fresh:
            p = promise_for(ends[j], chains.get(j, []), history, share=self.share)
            own = [leg for c in chains.get(j, []) for leg in c.legs if leg.own]
            best = None
            if self.spread > 0 and own:
                last = max(own, key=lambda leg: leg.end)
                best = best_within(ends[j] - now, last.seconds, self.spread)
            self.promised[j] = _Promised(now, p.end, ends[j], p.end, best_within=best)
        for j, (reason, kind) in self.disrupted.items():
            if j not in ends:
                continue
            mine = self.promised[j]
            renewed = promise_for(ends[j], chains.get(j, []), history, share=self.share).end
            decision = hold(
                promised=mine.end, planned_end=ends[j], renewed=renewed, disruption=reason
            )
            if decision.moved:
                mine.end = decision.end
                mine.moves += 1
                self.reasons[kind] += 1
        self.disrupted.clear()

    # -- the report -------------------------------------------------------------------------

    def report(self, finished: Mapping[int, float | None], end: float) -> dict[str, Any]:
        """Kept share and p90 error of the promises whose outcome is known by `end`: the job
        finished, or its promise passed unfinished (broken; its error counted from `end`)."""
        first: list[tuple[float, float]] = []
        final: list[tuple[float, float]] = []
        plan_only: list[tuple[float, float]] = []
        errors: list[tuple[float, float, float]] = []
        plan_errors: list[tuple[float, float, float]] = []
        best: list[float] = []
        for j, p in self.promised.items():
            done = finished.get(j)
            if done is None and p.end > end:
                continue  # not due yet: unknown
            actual = done if done is not None else end
            first.append((p.first, actual))
            final.append((p.end, actual))
            plan_only.append((p.planned, actual))
            errors.append((p.at, p.first, actual))
            plan_errors.append((p.at, p.planned, actual))
            if p.best_within is not None:
                best.append(p.best_within)
        leads = sorted((p.first - p.at) / 3600 for p in self.promised.values())
        return {
            "share_target": self.share,
            "promised_jobs": len(self.promised),
            "judged_jobs": len(first),
            "kept_share": _round(kept_share(first)),
            "kept_share_after_moves": _round(kept_share(final)),
            "kept_share_without_margin": _round(kept_share(plan_only)),
            "error_p90_share_of_lead": _round(error_p90(errors)),
            # The plan's own end as the promise: what the margin trades for promises kept.
            "error_p90_share_of_lead_without_margin": _round(error_p90(plan_errors)),
            # No promise rule, kept or not, could put more of the judged jobs within +-10 % of
            # their lead (print-time noise of each job's last run alone): below 0.9, a p90
            # error of 10 % of lead is out of reach whatever the margin.
            "best_share_within_10_percent_of_lead": _round(sum(best) / len(best)) if best else None,
            "lead_hours_median": round(leads[len(leads) // 2], 2) if leads else None,
            "moved_jobs": sum(1 for p in self.promised.values() if p.moves),
            "moves_by_reason": dict(self.reasons),
        }


_NORMAL = NormalDist()
BEST_STEPS = 120  # promise leads tried per job by `best_within`


def best_within(planned_lead: float, last_run: float, spread: float) -> float:
    """An upper bound on the chance that a job lands within +-10 % of its promise's lead,
    whatever the promise: the job's last run takes `last_run` seconds times lognormal(0,
    `spread`), and the rest of its `planned_lead` (the wait, earlier runs) is taken as
    certain, which only makes the bound higher. The promise's lead L is chosen for the best
    chance: max over L of P(0.9 L <= rest + last run <= 1.1 L). One run printing now with
    10 % noise: 0.68 at best (a window of two sigmas)."""
    if last_run <= 0 or spread <= 0:
        return 1.0
    rest = max(0.0, planned_lead - last_run)

    def cdf(x: float) -> float:  # P(rest + last run <= x)
        return 0.0 if x <= rest else _NORMAL.cdf(math.log((x - rest) / last_run) / spread)

    # The window's best lead lies within the middle of the run's spread.
    low, high = rest + last_run * math.exp(-4 * spread), rest + last_run * math.exp(4 * spread)
    best = 0.0
    for k in range(BEST_STEPS + 1):
        lead = low + (high - low) * k / BEST_STEPS
        best = max(best, cdf(1.1 * lead) - cdf(0.9 * lead))
    return best


def _round(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 4)
