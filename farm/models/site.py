from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name (for example Europe/Berlin)")


class Site(models.Model):
    """A microfactory: one place with printers and people."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    location = models.CharField(max_length=200, blank=True)
    pickup_location = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where people collect finished parts, e.g. Shelf B, building 4 reception.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    # Kept by the sites sweep (farm.services.sites), not by hand: False once the site's fleet
    # link has been silent past FARM_SITE_DOWN_GRACE_SECONDS; the planner uses online sites only.
    online = models.BooleanField(default=True, help_text="False when the site stops reporting.")
    # The last heartbeat of a fleet link watching the site (database time, written at most every
    # few seconds); None: no fleet link has ever watched it, so it is never taken for down.
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the sweep first found the heartbeat stale: the grace runs from here, on the centre's
    # clock, so a centre that was itself stopped does not take every site for down.
    silent_since = models.DateTimeField(null=True, blank=True, editable=False)
    # When the site was marked down and its not-yet-started work released to other sites.
    down_since = models.DateTimeField(null=True, blank=True, editable=False)
    # When people are there to clear beds and swap filament (local time). 0-24 every day =
    # always staffed.
    staffed_from_hour = models.PositiveSmallIntegerField(default=0)
    staffed_until_hour = models.PositiveSmallIntegerField(default=24)
    staffed_weekdays = models.CharField(
        max_length=7, default="0123456", help_text="Days with staff, Monday = 0: e.g. 01234."
    )
    max_heating = models.PositiveSmallIntegerField(
        default=0, help_text="Printers allowed to heat up at once (power limit); 0 = no limit."
    )
    machine_rate_per_hour = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="What an hour of printing costs here, on top of the material; 0 = not charged.",
    )
    # Approval rules: a job over any of these waits, held, for an operator's yes or no.
    approve_above_grams = models.PositiveIntegerField(
        null=True, blank=True, help_text="Jobs using more filament wait for approval."
    )
    approve_above_hours = models.FloatField(
        null=True, blank=True, help_text="Jobs of more printer hours wait for approval."
    )
    approve_above_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Jobs costing more (FARM_CURRENCY) wait for approval.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Checked here rather than by field validators (which would need a migration): the
        # admin form and site_add both run full_clean. A shift may run past midnight (22-6).
        errors = {}
        if not 0 <= self.staffed_from_hour <= 23:
            errors["staffed_from_hour"] = "An hour of the day, 0 to 23."
        if not 0 <= self.staffed_until_hour <= 24:
            errors["staffed_until_hour"] = "An hour of the day, 0 to 24."
        days = self.staffed_weekdays
        if not days or any(d not in "0123456" for d in days) or len(set(days)) != len(days):
            errors["staffed_weekdays"] = "Digits 0 (Monday) to 6 (Sunday), each once: e.g. 01234."
        if errors:
            raise ValidationError(errors)
