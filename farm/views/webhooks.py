"""/manage/webhooks/: the farm's webhook endpoints outside the admin (managers): list, add,
turn off and on, make a new signing secret, and the recent deliveries. A secret is in the
answer to the POST that made it, and nowhere else; URLs are shown by their host only (a
path or query may hold the receiver's token)."""

from __future__ import annotations

from functools import wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from farm.models import WebhookDelivery, WebhookEndpoint
from farm.roles import is_manager, signed_in_user
from farm.services.webhooks import (
    url_host,
    webhook_create,
    webhook_event_kinds,
    webhook_new_secret,
    webhook_set_enabled,
)

RECENT = 50


def manager_required(view: Any) -> Any:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_manager(request.user):
            raise PermissionDenied("Managers only.")
        return cast(HttpResponse, view(request, *args, **kwargs))

    return wrapped


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. The ERP, Floor chat bridge.")
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="URL",
        help_text="Where the farm POSTs each event as signed JSON (http or https).",
    )
    events = forms.MultipleChoiceField(
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every job, run and printer event.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events = cast(forms.MultipleChoiceField, self.fields["events"])
        events.choices = [(k, k) for k in webhook_event_kinds()]


def _page(
    request: HttpRequest, form: EndpointForm, secret: tuple[WebhookEndpoint, str] | None = None
) -> HttpResponse:
    endpoints = list(WebhookEndpoint.objects.select_related("owner").order_by("name", "pk"))
    for endpoint in endpoints:
        endpoint.host = url_host(endpoint.url)  # type: ignore[attr-defined]
    recent = WebhookDelivery.objects.select_related("endpoint", "event").order_by("-pk")[:RECENT]
    context = {"form": form, "endpoints": endpoints, "recent": recent, "secret": secret}
    response = render(request, "farm/webhooks.html", context)
    if secret is not None:
        response["Cache-Control"] = "no-store"  # the secret: not kept by the browser's cache
    return response


@manager_required
def webhooks(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = webhook_create(
                owner=signed_in_user(request),
                name=data["name"],
                url=data["url"],
                events=data["events"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _page(request, EndpointForm(), secret=made)
    return _page(request, form)


@manager_required
@require_POST
def webhook_action(request: HttpRequest, endpoint_id: int, action: str) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    if action in ("disable", "enable"):
        webhook_set_enabled(endpoint=endpoint, enabled=action == "enable")
        messages.success(request, f"{endpoint.name} is {'on' if action == 'enable' else 'off'}.")
        return redirect("webhooks")
    if action == "secret":
        # The old secret stops working at once: the receiver needs the new one.
        return _page(
            request, EndpointForm(), secret=(endpoint, webhook_new_secret(endpoint=endpoint))
        )
    return HttpResponse("No such action.", status=404)
