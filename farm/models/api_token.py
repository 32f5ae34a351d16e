"""What the farm keeps beside a django-rest-knox token: the name its owner gave it ("CI
robot", "PrusaSlicer on my laptop") and when it was last used. The token itself is knox's,
kept hashed; a token made before names existed has no label and reads as "unnamed"."""

from __future__ import annotations

from django.db import models
from knox.models import AuthToken


class TokenLabel(models.Model):
    token = models.OneToOneField(
        AuthToken, on_delete=models.CASCADE, primary_key=True, related_name="label"
    )
    name = models.CharField(max_length=100)
    # Written at most once a minute per token (farm.services.api_tokens.TOUCH_SECONDS), so an
    # integration polling every second is not a database write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
