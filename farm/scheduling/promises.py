"""Promises a farm can keep: a confirmed job's completion time, its margin and when it moves.

A plan's end is a median guess: print times scatter around their (learned) estimates, and a
run that fails is printed again. The promise is the plan's end plus a margin sized from the
farm's own history so that the stated share of promises (`share`, e.g. 0.9) is kept:

- **print-time error**, per printer model: the distribution of actual / planned seconds of
  finished runs. A job waits for every run planned before it on its printer (its *chain*),
  so the margin of a chain is the model's mean bias on every run plus the spread of the
  total: the per-run quantile deviations added in quadrature (independent runs; for a chain
  of one run this is exactly the empirical quantile of actual / planned).
- **failures**, per model: the share of runs that failed. A failed run of the job itself
  costs a reprint: the margin allows the number of own reprints that `share` of jobs stay
  within (often none: one run failing 3 % of the time is inside a 90 % promise), and the
  share of jobs that need more is taken out of the print-time budget. A failed run of
  another job ahead on the chain delays this one by its expected extra time.

The hold rule (`hold`) keeps a confirmed promise through every reshuffle; it moves only
when the farm changed (a run failed, a printer the job was planned on left service, a site
went down) and the plan now ends after it, and then it says why.

Plain Python, shared by the farm (`farm.services.promises`) and the twin
(`farm.twin.simulation`), so what the twin measures is the rule the farm applies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from farm.scheduling.calendar import Staffing
from farm.scheduling.types import Assignment, PrinterSlot, SiteRules

DEFAULT_SHARE = 0.9  # the share of promises the farm means to keep
MIN_RUNS = 20  # finished runs of a model before its own history counts (else the farm's)
RECENT_RUNS = 500  # the newest runs per model that count: the farm changes
# Before the farm has MIN_RUNS runs at all: a print-time spread and a failure rate that a
# new FFF farm can expect, stated so the first promises are not blind.
PRIOR_SPREAD = 0.15  # sigma of log(actual / planned)
PRIOR_FAILURE_RATE = 0.05
MAX_LEVEL = 0.999  # no margin is sized beyond this quantile (the tail is not known)
# Own failures beyond the reprints allowed may cost this share of the miss budget (a night's
# wait for a reprint is the likeliest way to break a promise; measured with the twin:
# 0.5 kept 85 % of the company farm's promises, 0.25 kept 92 %).
FAILURE_SHARE = 0.25
_NORMAL = NormalDist()


@dataclass(frozen=True)
class RunRecord:
    """One run the farm printed (or failed): what the plan gave it and what it took."""

    model: str
    planned_seconds: float
    actual_seconds: float | None  # None when it failed
    failed: bool = False


@dataclass(frozen=True)
class ModelHistory:
    """What a model's runs taught: sorted actual / planned ratios and its failure rate."""

    ratios: tuple[float, ...]
    runs: int  # all runs, failed ones included
    failed: int
    own: bool  # from its own runs (else the farm's, or the prior)

    @property
    def failure_rate(self) -> float:
        return self.failed / self.runs if self.runs else PRIOR_FAILURE_RATE

    @property
    def mean(self) -> float:
        return math.fsum(self.ratios) / len(self.ratios) if self.ratios else 1.0

    def quantile(self, level: float) -> float:
        """The `level` quantile of actual / planned (the prior's lognormal with no runs)."""
        if not self.ratios:
            return math.exp(PRIOR_SPREAD * _NORMAL.inv_cdf(level))
        # The nearest-rank quantile, never below what `level` of the runs took.
        rank = min(len(self.ratios) - 1, max(0, math.ceil(level * len(self.ratios)) - 1))
        return self.ratios[rank]


@dataclass(frozen=True)
class History:
    models: Mapping[str, ModelHistory]
    farm: ModelHistory  # every model together: for models with few runs of their own

    def of(self, model: str) -> ModelHistory:
        found = self.models.get(model)
        return found if found is not None and found.own else self.farm

    @property
    def runs(self) -> int:
        return self.farm.runs


def history_from(records: Iterable[RunRecord]) -> History:
    """The history of the newest RECENT_RUNS runs per model (records oldest first)."""
    by_model: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        by_model[r.model].append(r)
    models: dict[str, ModelHistory] = {}
    everything: list[RunRecord] = []
    for model, runs in by_model.items():
        recent = runs[-RECENT_RUNS:]
        everything += recent
        models[model] = _summary(recent, own=len(recent) >= MIN_RUNS)
    farm = _summary(everything, own=len(everything) >= MIN_RUNS)
    if not farm.own:
        farm = ModelHistory((), 0, 0, own=False)  # too few to say anything: the prior
    return History(models, farm)


def _summary(runs: Sequence[RunRecord], *, own: bool) -> ModelHistory:
    ratios = sorted(
        r.actual_seconds / r.planned_seconds
        for r in runs
        if not r.failed and r.actual_seconds and r.planned_seconds > 0
    )
    return ModelHistory(tuple(ratios), len(runs), sum(1 for r in runs if r.failed), own)


# When a printer whose run ended at t can start the next one: a person clears its bed in
# staffed hours (the identity for a printer that ejects its parts, or with no site rules).
Clearing = Callable[[float], float]


def _at_once(t: float) -> float:
    return t


@dataclass(frozen=True)
class ClearingRules:
    """Each printer's clearing rule from its site's rules: the next staffed moment plus the
    site's clearing time (at once for a printer that ejects its parts), as the planner and
    the twin clear beds."""

    sites: tuple[tuple[str, SiteRules], ...]

    @classmethod
    def of(cls, sites: Mapping[str, SiteRules]) -> ClearingRules:
        return cls(tuple(sorted(sites.items())))

    def __call__(self, slot: PrinterSlot) -> Clearing:
        if slot.auto_eject:
            return _at_once
        rules = dict(self.sites).get(slot.site, SiteRules())
        staff = _staffing(rules)
        return lambda t: staff.next_staffed(t) + rules.clear_seconds


@lru_cache(maxsize=256)
def _staffing(rules: SiteRules) -> Staffing:
    return Staffing(rules)


@dataclass(frozen=True)
class Leg:
    """One stretch of printing on a printer: a planned run, or what its current run has left."""

    model: str
    seconds: float
    own: bool  # a run of the job being promised
    start: float = 0.0  # planned
    end: float = 0.0


@dataclass(frozen=True)
class Chain:
    """Everything a printer prints from now until the job's last run on it ends."""

    end: float
    legs: tuple[Leg, ...]
    clearing: Clearing = _at_once


def chains_for(
    job_ids: set[int],
    assignments: Iterable[Assignment],
    printers: Mapping[int, PrinterSlot],
    now: float,
    clearing: Callable[[PrinterSlot], Clearing] | None = None,
) -> dict[int, list[Chain]]:
    """Each job's chains in one plan, in one walk over it (a pass promises many jobs):
    one per printer it is planned on. `clearing` gives each printer's bed-clearing rule."""
    by_printer: dict[int, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_printer[a.printer_id].append(a)
    out: dict[int, list[Chain]] = defaultdict(list)
    for printer_id, planned in by_printer.items():
        if not job_ids.intersection(a.job_id for a in planned):
            continue
        slot = printers.get(printer_id)
        model = slot.model if slot is not None else ""
        planned.sort(key=lambda a: a.start)
        # What the printer prints now is ahead of every planned run (no job's own).
        busy = (slot.free_at - now) if slot is not None else 0.0
        ahead: list[tuple[int, float, float]] = [(-1, now, now + busy)] if busy > 0 else []
        rule = clearing(slot) if clearing is not None and slot is not None else _at_once
        last = {a.job_id: i for i, a in enumerate(planned)}
        for i, a in enumerate(planned):
            ahead.append((a.job_id, a.start, a.end))
            if a.job_id in job_ids and last[a.job_id] == i:
                legs = tuple(Leg(model, e - s, j == a.job_id, s, e) for j, s, e in ahead)
                out[a.job_id].append(Chain(a.end, legs, rule))
    return dict(out)


@dataclass(frozen=True)
class Promise:
    end: float  # the promised completion, POSIX seconds
    planned_end: float  # the plan's end it was made from
    confidence: float  # the chance, from the history, that the job is done by `end`
    runs: int  # the history it rests on (0: the prior only)


def promise_for(
    planned_end: float,
    chains: Sequence[Chain],
    history: History,
    *,
    share: float = DEFAULT_SHARE,
) -> Promise:
    """The promise for a job planned to end at `planned_end` through `chains`."""
    if not chains:
        return Promise(planned_end, planned_end, share, history.runs)
    own = [leg for c in chains for leg in c.legs if leg.own]
    no_fail = [1.0 - history.of(leg.model).failure_rate for leg in own]
    longest = max((leg.seconds for leg in own), default=0.0)
    best: tuple[float, float] | None = None  # (end, confidence)
    options = _reprint_options(no_fail, share)
    for i, (allowed, p_within) in enumerate(options):
        # What is left of the miss budget goes to print times, split evenly across the
        # chains (the job is late if any of them is).
        level = min(MAX_LEVEL, (share / p_within) ** (1.0 / len(chains)))
        confidence = p_within * level ** len(chains)
        if confidence < share * (1.0 - 1e-9) and i < len(options) - 1:
            continue  # print times would need more than the cap: not an option
        end = _end_with(chains, history, level, allowed, longest, planned_end)
        if best is None or end < best[0]:
            best = (end, confidence)
    assert best is not None  # _reprint_options always offers its last option
    return Promise(best[0], planned_end, min(share, best[1]), history.runs)


def _end_with(
    chains: Sequence[Chain],
    history: History,
    level: float,
    allowed: int,
    longest: float,
    planned_end: float,
) -> float:
    """The job's end with print times at `level` and `allowed` own runs printed again.

    A failed run is printed again after it, so the chain it failed on ends a whole run later
    (and any chain may be the one): the reprints, spread over the chains, count as whole runs
    on each, after the failed bed is cleared (a failure at night waits for the morning). A
    share of one reprint per chain (before) fell short: 12 of the 15 jobs with a failed run
    broke their promise on the company farm's twin driving the farm's services."""
    reprints = math.ceil(allowed / len(chains))
    end = planned_end
    for c in chains:
        late = c.end + _chain_margin(c, history, level)
        if reprints:
            late = c.clearing(late) + longest * reprints
        end = max(end, late)
    return end


def _reprint_options(no_fail: Sequence[float], share: float) -> list[tuple[int, float]]:
    """The numbers of own reprints a promise may allow for, each with the chance that no
    more are needed: from the fewest whose chance alone exceeds `share` (the rest of the
    budget then goes to print times) up to the fewest within which all but FAILURE_SHARE of
    the miss budget stay (before, that one was always taken: a single run failing 3 % of the
    time got a whole reprint, a night's wait included). `promise_for` takes the option
    that ends soonest; each keeps `share`. The count of failed runs is Poisson with the sum
    of their failure rates (Le Cam: off by at most the sum of their squares, small for rates
    of a few per cent), so a 1,000-run order costs a few dozen steps, not a million."""
    lam = math.fsum(1.0 - q for q in no_fail)
    target = min(1.0, share + (1.0 - share) * (1.0 - FAILURE_SHARE))
    if lam <= 0:
        return [(0, 1.0)]
    options: list[tuple[int, float]] = []
    within = 0.0
    log_pk = -lam  # log of the chance of exactly k failures
    for k in range(len(no_fail) + 1):
        within += math.exp(log_pk)
        if within >= target:
            return [*options, (k, min(1.0, within))]
        # Only an option that leaves print times a real budget (within the cap).
        if within * MAX_LEVEL > share:
            options.append((k, within))
        log_pk += math.log(lam) - math.log(k + 1)
    return [*options, (len(no_fail), 1.0)]


def _chain_margin(chain: Chain, history: History, level: float) -> float:
    """How much later than planned the chain's last run ends at `level`: by the time each
    leg ends, the bias on every leg so far, their spread at `level` in quadrature and the
    expected reprint time of the other jobs' runs; and a leg that ends later than planned
    waits for its bed to be cleared (`Chain.clearing`: a run ending after the staffed hours
    waits for the morning, so a few minutes late can be a night late)."""
    bias = spread = others = 0.0
    end = previous_end = None
    for leg in chain.legs:
        h = history.of(leg.model)
        bias += leg.seconds * (h.mean - 1.0)
        spread += (leg.seconds * max(0.0, h.quantile(level) - h.mean)) ** 2
        if not leg.own:
            others += leg.seconds * h.failure_rate
        late = max(0.0, bias + math.sqrt(spread) + others)
        start = leg.start
        if end is not None and previous_end is not None and end > previous_end:
            start = max(start, chain.clearing(end))
        # The leg's own share of the lateness: what the chain so far adds beyond the
        # planned end, once the start it could really have is taken into account.
        end = max(start + leg.seconds * h.mean, leg.end + late)
        previous_end = leg.end
    return 0.0 if end is None else max(0.0, end - chain.end)


def due_with(due: float | None, promised: float | None) -> float | None:
    """The due date the planner is given for a promised job: its promise, when sooner.

    The planner orders work by priority, then due date; a promise that is not a due date
    would lose its printer to every later job that has one, and be broken by a reshuffle."""
    if promised is None:
        return due
    return promised if due is None else min(due, promised)


@dataclass(frozen=True)
class Decision:
    end: float
    moved: bool
    reason: str = ""


def hold(*, promised: float, planned_end: float, renewed: float, disruption: str) -> Decision:
    """A confirmed promise is kept unless the farm changed (`disruption` says how; empty: it
    did not) and the plan now ends after it; then it moves to `renewed` (the new plan's
    promise), with the disruption as its reason. A reshuffle alone never moves it, nor does
    it ever move earlier: a promise kept early is still kept."""
    if disruption and planned_end > promised:
        return Decision(max(renewed, planned_end), True, disruption)
    return Decision(promised, False)


def confidence_sentence(confidence: float, runs: int) -> str:
    """ "9 in 10 jobs like this finish earlier", from the promise's confidence."""
    tenths = max(1, math.floor(confidence * 10 + 1e-9))
    if runs < MIN_RUNS:
        return (
            f"about {tenths} in 10 jobs like this finish earlier (from typical farm figures: "
            "this farm has too few finished runs yet)"
        )
    return f"{tenths} in 10 jobs like this finish earlier (from {runs} runs of this farm)"


def kept_share(outcomes: Iterable[tuple[float, float]]) -> float | None:
    """The share of (promised, actual) completions that were on time."""
    pairs = list(outcomes)
    if not pairs:
        return None
    return sum(1 for promised, actual in pairs if actual <= promised) / len(pairs)


def error_p90(outcomes: Iterable[tuple[float, float, float]]) -> float | None:
    """The p90 of |actual - promised| / lead time over (promised_at, promised, actual)."""
    errors = sorted(
        abs(actual - promised) / (promised - at)
        for at, promised, actual in outcomes
        if promised > at
    )
    if not errors:
        return None
    return errors[min(len(errors) - 1, max(0, math.ceil(0.9 * len(errors)) - 1))]


__all__ = [
    "Chain",
    "ClearingRules",
    "Decision",
    "History",
    "Leg",
    "Promise",
    "RunRecord",
    "chains_for",
    "confidence_sentence",
    "due_with",
    "error_p90",
    "hold",
    "history_from",
    "kept_share",
    "promise_for",
]
