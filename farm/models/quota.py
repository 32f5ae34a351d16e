from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


class Quota(models.Model):
    """How much one user, or one group's members together, may print per calendar month.

    Either limit may be empty (no limit of that kind). Checked at submission and again when
    the file's estimate is known (farm.services.quotas).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quota",
    )
    group = models.OneToOneField(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="quota"
    )
    grams_per_month = models.PositiveIntegerField(
        null=True, blank=True, help_text="Filament per calendar month; empty = no limit."
    )
    hours_per_month = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Printer hours per calendar month; empty = no limit.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="quota_user_or_group",
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.user}" if self.user_id else f"group {self.group}"
        return f"Quota of {who}"
