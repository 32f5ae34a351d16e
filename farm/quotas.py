"""Monthly quotas: what is left, and whether a job fits. Plain arithmetic, no Django."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Allowance:
    """One limit of one quota and what has been used of it this month."""

    whose: str  # "your", "the Design group's": how the message names it
    unit: str  # "g" or "printer hours"
    limit: float
    used: float

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.used)

    def describe(self) -> str:
        return f"{_amount(self.left, self.unit)} of {self.whose} {_amount(self.limit, self.unit)}"


def _amount(value: float, unit: str) -> str:
    if unit == "g":
        return f"{value:,.0f} g"
    return f"{value:,.1f} {unit}"


def spent(allowances: list[Allowance]) -> str | None:
    """Why nothing more may be submitted this month (None: some of every limit is left)."""
    for a in allowances:
        if a.left <= 0:
            return (
                f"You have used all of {a.whose} {_amount(a.limit, a.unit)} for this month "
                "(counting jobs still waiting); ask an operator to raise the quota."
            )
    return None


def overrun(allowances: list[Allowance], *, grams: float, hours: float) -> str | None:
    """Why a job of `grams` and `hours` does not fit what is left (None: it fits)."""
    for a in allowances:
        wanted = grams if a.unit == "g" else hours
        if wanted > a.left:
            return (
                f"This job would use {_amount(wanted, a.unit)} of {a.whose} "
                f"{_amount(a.left, a.unit)} left this month."
            )
    return None
