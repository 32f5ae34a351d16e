"""Notifications: each person's channels (an Apprise URL, kept encrypted), the events each
wants, quiet hours; and the outbox a Celery task sends from."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NotifyEvent(models.TextChoices):
    JOB_DONE = "job_done", "Job done"
    JOB_FAILED = "job_failed", "Print failed"
    PRINTER_ERROR = "printer_error", "Printer error"
    SITE_DOWN = "site_down", "Site down"
    LOW_STOCK = "low_stock", "Low stock"
    MAINTENANCE_DUE = "maintenance_due", "Maintenance due"


class NotificationChannel(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels"
    )
    name = models.CharField(max_length=100, help_text="e.g. My e-mail, Floor chat.")
    # An Apprise URL (mailto://, json://, slack://, ...): it holds tokens and passwords, so it
    # is stored encrypted and only its scheme and host are ever shown.
    url_encrypted = models.TextField(editable=False)
    url_hint = models.CharField(max_length=120, editable=False)
    events = models.JSONField(default=list, help_text="NotifyEvent values.")
    quiet_from_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    quiet_until_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="Empty: the farm's.")
    enabled = models.BooleanField(default=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url_hint})"


class Notification(models.Model):
    """One message for one channel; sent by the notifications task, held over quiet hours."""

    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=30, choices=NotifyEvent.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    # The same thing is said once per channel (a printer due for maintenance is found by every
    # sweep until the work is done).
    dedup_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedup_key"], name="one_message_per_key")
        ]
        indexes = [models.Index(fields=["sent_at", "send_after"])]

    def __str__(self) -> str:
        return self.title
