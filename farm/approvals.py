"""Approval rules: whether a job is big enough that an operator must say yes first. Plain
Python, no Django."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ApprovalRule:
    """A site's thresholds; None: no rule of that kind."""

    site: str
    grams: float | None = None
    hours: float | None = None
    cost: Decimal | None = None


def approval_reason(
    rules: list[ApprovalRule],
    *,
    grams: float,
    hours: float,
    cost: Decimal | None,
    currency: str,
) -> str | None:
    """Why a job of `grams`, `hours` and `cost` needs approval, in words for its owner and
    the operator (the first rule it is over); None: no rule catches it."""
    for rule in rules:
        if rule.grams is not None and grams > rule.grams:
            return f"it uses {grams:,.0f} g, over the {rule.grams:,.0f} g {rule.site} prints freely"
        if rule.hours is not None and hours > rule.hours:
            return (
                f"it takes {hours:,.1f} printer hours, over the {rule.hours:,.1f} h "
                f"{rule.site} prints freely"
            )
        if rule.cost is not None and cost is not None and cost > rule.cost:
            return (
                f"it costs {cost} {currency}, over the {rule.cost} {currency} "
                f"{rule.site} prints freely"
            )
    return None
