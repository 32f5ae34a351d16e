"""A person's own settings (farm.models.UserProfile)."""

from __future__ import annotations

from django.contrib.auth.models import User

from farm.local_time import user_zone_forget
from farm.models import UserProfile
from farm.models.site import validate_timezone


def profile_set_timezone(*, user: User, name: str) -> None:
    """Times shown to `user`, and dates they type, in zone `name` ("": the farm's)."""
    if name:
        validate_timezone(name)  # ValidationError with the message for the form
    UserProfile.objects.update_or_create(user=user, defaults={"timezone": name})
    user_zone_forget(user.pk)
