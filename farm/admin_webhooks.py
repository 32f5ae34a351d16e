"""The admin console's webhooks (an endpoint's secret is made by the farm and shown once, to
whoever made it or asked for a new one) and people's time zones. Imported by farm.admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from farm.models import UserProfile, WebhookDelivery, WebhookEndpoint
from farm.services.webhooks import url_host, webhook_new_secret


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["owner", "name", "url", "events", "enabled"]
        help_texts = {
            "owner": "Gets the events of this person's jobs; an operator's, every job and "
            "printer event.",
            "events": 'A list of kinds, e.g. ["job.done", "run.failed"]; [] for every job.*, '
            "run.* and printer.* event.",
        }


def _show_secret(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
    messages.warning(
        request,
        f"The signing secret of {endpoint.name}, shown this once: {secret} . Give it to the "
        "receiver, which checks X-Farm-Signature-256 (HMAC-SHA256 of the body) with it.",
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("name", "owner", "host", "enabled", "last_error", "created_at")
    list_filter = ("enabled",)
    actions = ["new_secret"]

    @admin.display(description="Host")
    def host(self, endpoint: WebhookEndpoint) -> str:
        return url_host(endpoint.url)  # its path or query may hold a token

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _show_secret(request, obj, webhook_new_secret(endpoint=obj))

    @admin.action(description="Make a new signing secret")
    def new_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            _show_secret(request, endpoint, webhook_new_secret(endpoint=endpoint))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "endpoint",
        "event",
        "created_at",
        "sent_at",
        "attempts",
        "status_code",
        "error",
    )
    list_filter = ("endpoint",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "timezone")
    search_fields = ("user__username",)
