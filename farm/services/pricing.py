"""What a job costs, from its estimate, its material's price and a site's machine rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from farm.models import Job, Site
from farm.pricing import cost, machine_cost, material_cost, to_cents


@dataclass(frozen=True)
class Price:
    amount: Decimal
    material: Decimal
    machine: Decimal
    currency: str
    # True when the job may print at more than one site and their rates differ: machine time
    # is priced at the highest of them, so the quote is never below the bill.
    at_most: bool

    def __str__(self) -> str:
        return f"{'at most ' if self.at_most else ''}{self.amount} {self.currency}"


def site_rates() -> dict[int, Decimal]:
    """Every site's machine rate by id: one query, read once for a whole list of jobs."""
    return dict(Site.objects.values_list("pk", "machine_rate_per_hour"))


def job_price(job: Job, rates: dict[int, Decimal] | None = None) -> Price | None:
    """The whole job (every copy) priced from its estimate; None until it has one.

    A job fixed to a site pays that site's rate; one the planner may put anywhere pays the
    highest rate of any site (`at_most` when rates differ).
    """
    if job.grams_per_copy is None or job.seconds_per_copy is None:
        return None
    rates = site_rates() if rates is None else rates
    if job.site_id is not None and job.site_id in rates:
        rate, at_most = rates[job.site_id], False
    else:
        rate = max(rates.values(), default=Decimal(0))
        at_most = len(set(rates.values())) > 1
    grams = job.grams_per_copy * job.quantity
    seconds = job.seconds_per_copy * job.quantity
    price_per_kg = job.material.cost_per_kg
    return Price(
        amount=cost(grams, seconds, price_per_kg, rate),
        material=to_cents(material_cost(grams, price_per_kg)),
        machine=to_cents(machine_cost(seconds, rate)),
        currency=settings.FARM_CURRENCY,
        at_most=at_most,
    )
