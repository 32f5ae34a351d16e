"""The admin console: sites, materials, printers, users, jobs; runs and events read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from farm import (
    admin_records,  # noqa: F401  (registers maintenance, spools, notifications)
    admin_webhooks,  # noqa: F401  (registers webhooks, time zones)
)
from farm.admin_forms import PrinterAdminForm
from farm.models import Event, Job, Material, Printer, PrintRun, Quota, Site
from farm.models.printer import ConnectionKind
from farm.roles import signed_in_user
from farm.services.jobs import job_cancel
from farm.services.runs import bed_clear
from farm.services.sites import site_report


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "location",
        "timezone",
        "machine_rate_per_hour",
        "online",
        "condition",
    )
    readonly_fields = ("condition", "last_heartbeat_at", "silent_since", "down_since")
    prepopulated_fields = {"slug": ("name",)}

    @admin.display(description="fleet link")
    def condition(self, site: Site) -> str:
        # One query per row: sites are a few dozen at most.
        report = site_report(site)
        return f"{report.condition.value}: {report.describe()}"


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    list_display = ("name", "density_g_cm3", "nozzle_temp_c", "bed_temp_c", "cost_per_kg")


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("__str__", "grams_per_month", "hours_per_month")
    list_select_related = ("user", "group")
    autocomplete_fields = ("user", "group")
    search_fields = ("user__username", "group__name")


def _simulated(printer: Printer) -> Any:
    from farm.services.printer_secrets import connection_settings
    from printers.drivers.simulated import SimulatedDriver

    return SimulatedDriver(device_id=printer.device_id, settings=connection_settings(printer))


def done_message(
    model_admin: admin.ModelAdmin, request: HttpRequest, count: int, one: str, many: str
) -> None:
    """An admin action says what it did ("3 jobs cancelled"), as Django's own delete does;
    what it could not do it has said already, as an error."""
    if count:
        model_admin.message_user(
            request, f"{count} {one if count == 1 else many}.", messages.SUCCESS
        )


@admin.register(Printer)
class PrinterAdmin(admin.ModelAdmin):
    form = PrinterAdminForm
    list_display = (
        "name",
        "site",
        "model",
        "material",
        "colour",
        "connection_kind",
        "state",
        "bed_clear",
        "auto_eject",
        "enabled",
        "maintenance",
    )
    list_filter = ("site", "state", "connection_kind", "material", "enabled", "maintenance")
    search_fields = ("name", "model")
    readonly_fields = ("state", "state_message", "state_changed_at", "current_run")
    actions = ["confirm_bed_cleared", "simulate_failure", "simulate_offline", "simulate_online"]

    @admin.action(description="Confirm bed cleared")
    def confirm_bed_cleared(self, request: HttpRequest, queryset: QuerySet[Printer]) -> None:
        cleared = 0
        for printer in queryset:
            try:
                bed_clear(printer=printer, actor=signed_in_user(request))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                cleared += 1
        done_message(self, request, cleared, "bed confirmed cleared", "beds confirmed cleared")

    def _simulated_only(self, request: HttpRequest, queryset: QuerySet[Printer]) -> list[Printer]:
        chosen = [p for p in queryset if p.connection_kind == ConnectionKind.SIMULATED]
        if len(chosen) < len(queryset):
            self.message_user(
                request, "Only simulated printers have fault knobs.", messages.WARNING
            )
        return chosen

    @admin.action(description="Simulated: fail the current print now")
    def simulate_failure(self, request: HttpRequest, queryset: QuerySet[Printer]) -> None:
        from printers.models import SimulatedDevice

        chosen = self._simulated_only(request, queryset)
        for p in chosen:
            SimulatedDevice.objects.filter(device_id=p.device_id).update(
                fail_at=0.0, error="simulated failure (admin): nozzle clog"
            )
            self.log_change(request, p, "Simulated: failed the current print")
        done_message(self, request, len(chosen), "printer fails its print", "printers fail theirs")

    @admin.action(description="Simulated: go offline")
    def simulate_offline(self, request: HttpRequest, queryset: QuerySet[Printer]) -> None:
        chosen = self._simulated_only(request, queryset)
        for p in chosen:
            _simulated(p).go_offline()
            self.log_change(request, p, "Simulated: went offline")
        done_message(self, request, len(chosen), "printer went offline", "printers went offline")

    @admin.action(description="Simulated: come back online")
    def simulate_online(self, request: HttpRequest, queryset: QuerySet[Printer]) -> None:
        chosen = self._simulated_only(request, queryset)
        for p in chosen:
            _simulated(p).come_online()
            self.log_change(request, p, "Simulated: came back online")
        done_message(self, request, len(chosen), "printer came back", "printers came back")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "owner",
        "quantity",
        "material",
        "colour",
        "priority",
        "status",
        "planned_end",
        "submitted_at",
    )
    list_filter = ("status", "material", "priority")
    search_fields = ("name", "owner__username")
    readonly_fields = (
        "uid",
        "file_sha256",
        "file_bytes",
        "status",
        "status_reason",
        "submitted_at",
        "finished_at",
        "planned_start",
        "planned_end",
        "plan_note",
        "estimate_source",
        "seconds_per_copy",
        "grams_per_copy",
    )
    actions = ["cancel_jobs"]

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = 0
        for job in queryset:
            try:
                job_cancel(job=job, actor=signed_in_user(request))
            except ValidationError as exc:
                self.message_user(request, f"#{job.pk}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                cancelled += 1
        done_message(self, request, cancelled, "job cancelled", "jobs cancelled")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PrintRun)
class PrintRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "job",
        "printer",
        "copies",
        "status",
        "started_at",
        "ended_at",
        "failure_reason",
    )
    list_filter = ("status",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "job", "run", "printer", "actor", "message")
    list_filter = ("kind",)
