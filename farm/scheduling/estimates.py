"""Learning print-time corrections from finished runs: estimates get better as the farm prints.

Each finished run gives a pair (estimated seconds, actual seconds). The correction factor is
an exponentially weighted mean of log(actual / estimated), kept per printer model and per
printer. A printer with few runs of its own is shrunk toward its model's factor, and a model
with few runs toward 1.0, so one odd run never swings an estimate far.

Only successful runs should be fed in: a failed or cancelled run says nothing about speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ALPHA = 0.1  # weight of the newest run: about the last 20 runs count
PRIOR_RUNS = 10.0  # runs of its own a printer needs before it counts as much as its model
RATIO_LIMITS = (0.25, 4.0)  # beyond this the run was not a normal print (or a wrong estimate)


@dataclass(frozen=True)
class Observation:
    model: str
    printer_id: int
    estimated_seconds: float
    actual_seconds: float


@dataclass
class _Mean:
    log_ratio: float = 0.0
    runs: int = 0

    def add(self, x: float) -> None:
        self.runs += 1
        # Until there are 1/ALPHA runs, a plain mean; after that, exponential forgetting.
        weight = max(ALPHA, 1.0 / self.runs)
        self.log_ratio += weight * (x - self.log_ratio)

    def effective_runs(self) -> float:
        # Confidence grows with every run; recency is the mean's business, not this.
        return float(self.runs)


class Corrections:
    """Correction factors per printer model and per printer, learned from finished runs."""

    def __init__(self) -> None:
        self._models: dict[str, _Mean] = {}
        self._printers: dict[int, _Mean] = {}

    def observe(self, o: Observation) -> None:
        if o.estimated_seconds <= 0 or o.actual_seconds <= 0:
            return
        lo, hi = RATIO_LIMITS
        ratio = min(hi, max(lo, o.actual_seconds / o.estimated_seconds))
        x = math.log(ratio)
        self._models.setdefault(o.model, _Mean()).add(x)
        self._printers.setdefault(o.printer_id, _Mean()).add(x)

    def model_factor(self, model: str) -> float:
        mean = self._models.get(model)
        if mean is None:
            return 1.0
        n = mean.effective_runs()
        return math.exp(n * mean.log_ratio / (n + PRIOR_RUNS))

    def factor(self, model: str, printer_id: int | None = None) -> float:
        """Multiply an estimate by this to get the expected actual time."""
        base = math.log(self.model_factor(model))
        mean = self._printers.get(printer_id) if printer_id is not None else None
        if mean is None:
            return math.exp(base)
        n = mean.effective_runs()
        return math.exp((n * mean.log_ratio + PRIOR_RUNS * base) / (n + PRIOR_RUNS))

    def corrected(
        self, estimate_seconds: float, model: str, printer_id: int | None = None
    ) -> float:
        return estimate_seconds * self.factor(model, printer_id)

    def model_seconds(
        self, estimate_seconds: float, models: list[str]
    ) -> tuple[tuple[str, float], ...]:
        """`WorkItem.model_seconds` for a job: its estimate corrected for each model."""
        return tuple(sorted((m, self.corrected(estimate_seconds, m)) for m in set(models)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": {m: [v.log_ratio, v.runs] for m, v in self._models.items()},
            "printers": {str(p): [v.log_ratio, v.runs] for p, v in self._printers.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Corrections:
        c = cls()
        c._models = {m: _Mean(float(v[0]), int(v[1])) for m, v in data.get("models", {}).items()}
        c._printers = {
            int(p): _Mean(float(v[0]), int(v[1])) for p, v in data.get("printers", {}).items()
        }
        return c


@dataclass(frozen=True)
class ErrorSummary:
    runs: int
    bias: float  # median of actual / estimated - 1: positive = estimates too short
    median_abs: float  # median of |actual / estimated - 1|
    p90_abs: float
    within_10_percent: float  # share of runs within 10% of the estimate


def error_summary(pairs: list[tuple[float, float]]) -> ErrorSummary:
    """The distribution of estimate errors over (estimated, actual) pairs, for reports."""
    valid = np.array([(e, a) for e, a in pairs if e > 0 and a > 0], dtype=float)
    if not len(valid):
        return ErrorSummary(0, 0.0, 0.0, 0.0, 1.0)
    error = valid[:, 1] / valid[:, 0] - 1.0
    magnitude = np.abs(error)
    return ErrorSummary(
        runs=len(valid),
        bias=float(np.median(error)),
        median_abs=float(np.median(magnitude)),
        p90_abs=float(np.percentile(magnitude, 90)),
        within_10_percent=float((magnitude <= 0.1 + 1e-9).mean()),
    )
