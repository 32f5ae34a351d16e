"""/notifications/: each person's own channels (any signed-in user: employees choose their
jobs' events, operators the farm's too). A URL is never shown back, only its hint."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from farm.models import Notification, NotificationChannel, NotifyEvent
from farm.records_forms import ChannelForm
from farm.roles import is_operator, signed_in_user
from farm.services.notifications import (
    ACCOUNT_EMAIL_URL,
    channel_email_account,
    channel_save,
    channel_set_enabled,
    channel_test,
)


@login_required
def channels(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    operator = is_operator(user)
    form = ChannelForm(request.POST or None, operator=operator)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel_save(
                user=user,
                name=data["name"],
                url=data["url"],
                events=data["events"],
                quiet_from_hour=data["quiet_from_hour"],
                quiet_until_hour=data["quiet_until_hour"],
                tz=data["timezone"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Channel added.")
            return redirect("notifications")
    labels = dict(NotifyEvent.choices)
    rows = [
        (c, [labels.get(e, e) for e in c.events])
        for c in NotificationChannel.objects.filter(user=user)
    ]
    recent = Notification.objects.filter(channel__user=user).select_related("channel")[:20]
    emailed = any(c.url_hint == ACCOUNT_EMAIL_URL for c, _ in rows)
    context = {"form": form, "rows": rows, "recent": recent, "emailed": emailed}
    return render(request, "farm/notifications.html", context)


@login_required
@require_POST
def email_me(request: HttpRequest) -> HttpResponse:
    """One click: e-mail me at my account's address when my jobs are done or fail."""
    try:
        channel_email_account(user=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Your jobs will be e-mailed to you when done or failed.")
    return redirect("notifications")


@login_required
@require_POST
def channel_action(request: HttpRequest, channel_id: int, action: str) -> HttpResponse:
    user = signed_in_user(request)
    # Someone else's channel is not found, rather than forbidden: its id says nothing.
    channel = get_object_or_404(NotificationChannel, pk=channel_id, user=user)
    if action == "delete":
        channel.delete()
        messages.success(request, "Channel removed.")
    elif action == "test":
        channel_test(channel=channel)  # written here, sent by the worker: no waiting
        messages.success(request, "A test message is on its way.")
    elif action in ("pause", "resume"):
        channel_set_enabled(channel=channel, enabled=action == "resume")
        messages.success(request, "Channel paused." if action == "pause" else "Channel resumed.")
    else:
        return HttpResponse("No such action.", status=404)
    return redirect("notifications")
