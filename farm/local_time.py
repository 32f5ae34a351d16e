"""Each person's local time: pages show times, and forms read the dates typed, in their zone.

The zone is the one they chose (UserProfile.timezone), else the one they gave their
notification channels' quiet hours, else the farm's (FARM_TIME_ZONE). The middleware makes it
Django's current time zone for the request, so the `date` filter and every form's DateTimeField
(the submission form's due date) use it without knowing it; the pages label times with the
zone's abbreviation ("T") and the header names the zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from farm.models import NotificationChannel, UserProfile

CACHE_SECONDS = 300  # one query per person per five minutes, not per page


def _cache_key(user_id: int) -> str:
    return f"user-tz:{user_id}"


def _cache_call(call: Callable[..., Any], *args: Any) -> Any:
    """The cache is a shortcut here: with Redis down, every page (this runs on each request)
    answered 500; the database still knows the zone."""
    try:
        return call(*args)
    except Exception:  # the cache backend's own connection errors differ per backend
        return None


def user_zone_name(user: User | AnonymousUser) -> str:
    """The zone `user` reads times in (an IANA name)."""
    if not isinstance(user, User):
        return str(settings.TIME_ZONE)
    key = _cache_key(user.pk)
    found = _cache_call(cache.get, key)
    if found is None:
        found = (
            UserProfile.objects.filter(user=user)
            .exclude(timezone="")
            .values_list("timezone", flat=True)
            .first()
            or NotificationChannel.objects.filter(user=user)
            .exclude(timezone="")
            .values_list("timezone", flat=True)
            .first()
            or ""
        )
        _cache_call(cache.set, key, found, CACHE_SECONDS)
    return found or str(settings.TIME_ZONE)


def user_zone_forget(user_id: int) -> None:
    """After a change of the person's zone: the next page reads it anew."""
    _cache_call(cache.delete, _cache_key(user_id))


class LocalTimeMiddleware:
    """Activates the signed-in person's zone for the request (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        try:
            zone = zoneinfo.ZoneInfo(user_zone_name(user))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return self.get_response(request)  # a zone gone from the system: the farm's
        with timezone.override(zone):
            return self.get_response(request)
