"""Signed webhooks: an endpoint (a URL and a secret) gets the farm's job and printer events
as JSON, each signed with HMAC-SHA256 over the body (farm.webhooks); the outbox a Celery task
sends from."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    name = models.CharField(max_length=100, help_text="e.g. The ERP, Floor chat bridge.")
    url = models.URLField(max_length=500)
    # The HMAC key: needed in clear to sign, so stored encrypted like printer API keys; shown
    # once, when made.
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(
        default=list, blank=True, help_text="Event kinds (job.done, ...); empty: every one."
    )
    enabled = models.BooleanField(default=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner__username", "name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event for one endpoint; sent (and retried) by the webhooks task."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey("farm.Event", on_delete=models.CASCADE, related_name="+")
    body = models.TextField(help_text="The JSON sent, exactly as signed.")
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="one_delivery_per_event")
        ]
        indexes = [models.Index(fields=["sent_at", "send_after"])]

    def __str__(self) -> str:
        return f"{self.endpoint} #{self.event_id}"
