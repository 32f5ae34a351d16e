"""What a print costs: material by weight plus machine time. Plain arithmetic, no Django."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def _decimal(value: float | Decimal) -> Decimal:
    # Through str: a float's binary expansion (0.1 -> 0.1000000000000000055...) is not what
    # the estimate or the price list said.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def material_cost(grams: float, price_per_kg: float | Decimal) -> Decimal:
    """Unrounded: the parts are summed before the total is rounded once."""
    return _decimal(grams) * _decimal(price_per_kg) / 1000


def machine_cost(seconds: float, rate_per_hour: float | Decimal) -> Decimal:
    return _decimal(seconds) * _decimal(rate_per_hour) / 3600


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cost(
    grams: float, seconds: float, price_per_kg: float | Decimal, rate_per_hour: float | Decimal
) -> Decimal:
    """Material at `price_per_kg` for `grams` plus `seconds` of machine time at
    `rate_per_hour`, rounded half up to cents. A rate of 0 charges no machine time."""
    if grams < 0 or seconds < 0:
        raise ValueError("grams and seconds cannot be negative")
    return to_cents(material_cost(grams, price_per_kg) + machine_cost(seconds, rate_per_hour))
