"""A job's cost: material by weight at its price plus machine time at a site's rate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from farm.models import Job, Site
from farm.pricing import cost
from farm.services.preparation import job_prepare
from farm.services.pricing import Price, job_price
from farm.services.submission import job_submit
from tests.api.conftest import token_client


@pytest.mark.parametrize(
    ("grams", "seconds", "per_kg", "per_hour", "expected"),
    [
        (100, 0, Decimal("25"), Decimal("0"), Decimal("2.50")),
        (0, 3600, Decimal("25"), Decimal("4.20"), Decimal("4.20")),
        (100, 1800, Decimal("25"), Decimal("3"), Decimal("4.00")),
        # 0.5 cent rounds up, once, on the sum: 0.0025 + 0.0025 -> 0.01, not 0.00 + 0.00.
        (0.1, 0, Decimal("25"), Decimal("0"), Decimal("0.00")),
        (0.2, 0, Decimal("25"), Decimal("0"), Decimal("0.01")),
        (0.1, 3, Decimal("25"), Decimal("3"), Decimal("0.01")),
        (12.345, 4567.8, 19.99, 2.5, Decimal("3.42")),
    ],
)
def test_it_adds_material_and_machine_time_rounded_to_cents(
    grams: float, seconds: float, per_kg: Any, per_hour: Any, expected: Decimal
) -> None:
    assert cost(grams, seconds, per_kg, per_hour) == expected


def test_it_refuses_negative_amounts() -> None:
    with pytest.raises(ValueError):
        cost(-1, 0, Decimal(25), Decimal(0))


def test_a_job_has_no_price_until_its_file_is_prepared(
    alice: Any, pla: Any, cube_upload: Any
) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    assert job_price(job) is None


def _priced(owner: Any, material: Any, upload: Any, **order: Any) -> tuple[Job, Price]:
    """A job submitted and prepared for real (the cube slices in a second), and its price."""
    order.setdefault("quantity", 1)
    job = job_submit(owner=owner, upload=upload, material=material, **order)
    job_prepare(job_id=job.pk)
    job = Job.objects.select_related("material").get(pk=job.pk)
    price = job_price(job)
    assert price is not None
    return job, price


def test_a_job_fixed_to_a_site_pays_every_copy_at_that_site_s_rate(
    alice: Any, pla: Any, cube_upload: Any, site: Site, settings: Any
) -> None:
    settings.FARM_CURRENCY = "CHF"
    site.machine_rate_per_hour = Decimal("3.00")
    site.save()
    Site.objects.create(name="Dear", slug="dear", machine_rate_per_hour=Decimal("90"))
    job, price = _priced(alice, pla, cube_upload(), quantity=3, site=site)
    assert job.grams_per_copy and job.seconds_per_copy
    assert price.amount == cost(
        job.grams_per_copy * 3, job.seconds_per_copy * 3, pla.cost_per_kg, Decimal(3)
    )
    assert price.machine > 0 and price.material > 0
    assert not price.at_most
    assert str(price) == f"{price.amount} CHF"


def test_a_job_that_may_print_anywhere_is_priced_at_the_dearest_rate(
    alice: Any, pla: Any, cube_upload: Any, site: Site
) -> None:
    Site.objects.create(name="Dear", slug="dear", machine_rate_per_hour=Decimal("90"))
    job, price = _priced(alice, pla, cube_upload())
    assert job.seconds_per_copy
    assert price.at_most
    assert price.amount == cost(
        job.grams_per_copy or 0, job.seconds_per_copy, pla.cost_per_kg, Decimal(90)
    )
    assert str(price).startswith("at most ")


def test_no_rate_anywhere_charges_the_material_only(
    alice: Any, pla: Any, cube_upload: Any, site: Site
) -> None:
    _, price = _priced(alice, pla, cube_upload(), quantity=2)
    assert price.machine == 0 and not price.at_most
    assert price.amount == price.material


def test_the_quote_and_the_job_page_show_the_cost_with_the_currency(
    client: Client, alice: Any, pla: Any, cube_upload: Any, site: Site
) -> None:
    job, price = _priced(alice, pla, cube_upload(), confirm_required=True)
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert f"It will cost <strong>{price.amount} EUR</strong>" in page  # on the quote
    assert f"<tr><th>Cost</th><td>{price.amount} EUR" in page


def test_the_api_s_job_carries_its_price(
    alice: Any, pla: Any, cube_upload: Any, site: Site
) -> None:
    job, price = _priced(alice, pla, cube_upload())
    client = token_client(alice)
    shown = client.get(f"/api/v1/jobs/{job.pk}/").json()["price"]
    assert shown == {
        "amount": str(price.amount),
        "material": str(price.material),
        "machine": "0.00",
        "currency": "EUR",
        "at_most": False,
    }
    listed = client.get("/api/v1/jobs/").json()["results"][0]
    assert listed["price"]["amount"] == str(price.amount)
