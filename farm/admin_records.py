"""The admin console's records: maintenance schedules and log, spools and stock thresholds,
notification channels (their URL write-only) and messages. Imported by farm.admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from farm.models import (
    MaintenanceHold,
    MaintenanceLog,
    MaintenanceSchedule,
    Notification,
    NotificationChannel,
    Spool,
    StockThreshold,
)
from farm.roles import signed_in_user
from farm.services.maintenance import maintenance_log_work, schedule_covers
from farm.services.notifications import channel_save


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MaintenanceSchedule)
class MaintenanceScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "task",
        "printer",
        "printer_model",
        "every_print_hours",
        "every_runs",
        "every_days",
        "blocks",
        "active",
    )
    list_filter = ("active", "blocks", "printer_model")
    search_fields = ("task", "printer__name", "printer_model")
    autocomplete_fields = ("printer",)
    actions = ["log_done"]

    @admin.action(description="Log the selected schedules as done on each of their printers")
    def log_done(self, request: HttpRequest, queryset: QuerySet[MaintenanceSchedule]) -> None:
        from farm.models import Printer

        actor = signed_in_user(request)
        done = 0
        for schedule in queryset:
            printers = (
                Printer.objects.filter(pk=schedule.printer_id)
                if schedule.printer_id
                else Printer.objects.filter(model=schedule.printer_model)
            )
            for printer in printers:
                if schedule_covers(schedule, printer):
                    maintenance_log_work(
                        printer=printer, schedule=schedule, actor=actor, note="logged in the admin"
                    )
                    done += 1
        self.message_user(request, f"Logged {done} pieces of work.", messages.SUCCESS)


@admin.register(MaintenanceLog)
class MaintenanceLogAdmin(ReadOnly):
    list_display = ("done_at", "printer", "schedule", "done_by", "note")
    list_filter = ("schedule",)
    search_fields = ("printer__name", "note")


@admin.register(MaintenanceHold)
class MaintenanceHoldAdmin(ReadOnly):
    list_display = ("printer", "reason", "since")


@admin.register(Spool)
class SpoolAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "material",
        "colour",
        "vendor",
        "remaining_g",
        "initial_g",
        "location",
        "printer",
        "archived",
        "spoolman_id",
    )
    list_filter = ("material", "archived", "vendor")
    search_fields = ("colour", "vendor", "location", "printer__name")
    autocomplete_fields = ("printer",)


@admin.register(StockThreshold)
class StockThresholdAdmin(admin.ModelAdmin):
    list_display = ("material", "colour", "min_g")


class ChannelAdminForm(forms.ModelForm):
    url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="An Apprise URL; kept encrypted and never shown. Empty keeps the one saved.",
    )

    class Meta:
        model = NotificationChannel
        fields = [
            "user",
            "name",
            "events",
            "quiet_from_hour",
            "quiet_until_hour",
            "timezone",
            "enabled",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.pk and not data.get("url"):
            raise ValidationError({"url": "Give the channel's URL."})
        return data


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ("user", "name", "url_hint", "events", "enabled", "last_error")
    readonly_fields = ("url_hint", "last_error")
    list_filter = ("enabled",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Through the service: it checks the URL, encrypts it and keeps only its hint.
        data = form.cleaned_data
        try:
            channel_save(
                user=data["user"],
                name=data["name"],
                url=data.get("url", ""),
                events=data["events"],
                quiet_from_hour=data["quiet_from_hour"],
                quiet_until_hour=data["quiet_until_hour"],
                tz=data["timezone"],
                channel=obj if change else None,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ("created_at", "channel", "event", "title", "sent_at", "attempts", "error")
    list_filter = ("event",)
