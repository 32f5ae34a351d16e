from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name (for example Europe/Berlin)")


class Site(models.Model):
    """A microfactory: one place with printers and people."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    location = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    online = models.BooleanField(default=True, help_text="False when the site stops reporting.")
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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
