"""A person's own settings: the time zone their pages and forms use (farm.local_time)."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from farm.local_time import user_zone_name
from farm.roles import signed_in_user
from farm.services.profiles import profile_set_timezone


@cache
def zone_choices() -> list[tuple[str, str]]:
    names = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return [("", f"The farm's ({settings.TIME_ZONE})"), *((n, n) for n in names)]


class TimeZoneForm(forms.Form):
    timezone = forms.ChoiceField(
        choices=zone_choices,
        required=False,
        label="Time zone",
        help_text="Times are shown in it, and the dates you type (a due date) are read in it.",
    )


@login_required
def my_time(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["timezone"]
            try:
                profile_set_timezone(user=user, name=name)
            except ValidationError as exc:
                form.add_error("timezone", exc)
            else:
                messages.success(request, f"Times are now shown in {name or settings.TIME_ZONE}.")
                return redirect("my-time")
    else:
        chosen = user.farm_profile.timezone if hasattr(user, "farm_profile") else ""
        form = TimeZoneForm(initial={"timezone": chosen})
    context = {"form": form, "zone": user_zone_name(user), "now": timezone.now()}
    return render(request, "farm/my_time.html", context)
