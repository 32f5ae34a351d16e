"""A person's own settings that are not about authentication: their time zone."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from farm.models.site import validate_timezone


class UserProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="farm_profile"
    )
    # Times are shown, and dates entered are read, in this zone (farm.middleware); empty:
    # the farm's (FARM_TIME_ZONE).
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validate_timezone], help_text="Empty: the farm's."
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.timezone or 'farm time'})"
