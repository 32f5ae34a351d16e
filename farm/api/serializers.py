"""What the REST API reads and writes. Output only what the web pages show the same user:
never a printer's connection settings or secrets, never the stored file name."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from farm.models import Job, Material, Printer, PrintRun, PromiseChange, Site
from farm.models.job import Priority, Supports
from farm.models.printer import PrinterState
from farm.site_watch import SiteCondition
from farm.statuses import JobStatus, RunStatus

# Named once for the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]): jobs and runs
# both have a `status`.
JOB_STATUSES = JobStatus.choices()
RUN_STATUSES = RunStatus.choices()


class MaterialSerializer(serializers.ModelSerializer[Material]):
    class Meta:
        model = Material
        fields = [
            "id",
            "name",
            "density_g_cm3",
            "nozzle_temp_c",
            "bed_temp_c",
            "cost_per_kg",
            "filament_diameter_mm",
        ]
        read_only_fields = fields


class SiteSerializer(serializers.ModelSerializer[Site]):
    condition = serializers.ChoiceField(
        choices=[c.value for c in SiteCondition],
        read_only=True,
        help_text="up, not watched, silent, down or offline (farm.site_watch).",
    )
    condition_text = serializers.CharField(read_only=True, help_text="Why, in a sentence.")

    class Meta:
        model = Site
        fields = [
            "id",
            "name",
            "slug",
            "location",
            "pickup_location",
            "timezone",
            "online",
            "staffed_from_hour",
            "staffed_until_hour",
            "staffed_weekdays",
            "condition",
            "condition_text",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer[PrintRun]):
    status = serializers.ChoiceField(choices=RUN_STATUSES, read_only=True)
    printer = serializers.CharField(source="printer.name", read_only=True)
    site = serializers.CharField(source="printer.site.slug", read_only=True)

    class Meta:
        model = PrintRun
        fields = [
            "id",
            "status",
            "printer",
            "site",
            "copies",
            "planned_start",
            "planned_end",
            "started_at",
            "ended_at",
            "cleared_at",
            "failure_reason",
        ]
        read_only_fields = fields


class CopiesSerializer(serializers.Serializer[Any]):
    """farm.services.jobs.CopyCounts."""

    done = serializers.IntegerField(help_text="Printed and taken off the bed.")
    printed = serializers.IntegerField(help_text="Done, or on a bed waiting to be taken off.")
    printing = serializers.IntegerField()
    waiting = serializers.IntegerField(help_text="Not on a printer yet.")


class PriceSerializer(serializers.Serializer[Any]):
    """farm.services.pricing.Price: every copy of the job, from its estimate."""

    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    material = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    machine = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, help_text="Machine time at a site's rate."
    )
    currency = serializers.CharField(read_only=True, help_text="FARM_CURRENCY, e.g. EUR.")
    at_most = serializers.BooleanField(
        read_only=True, help_text="Priced at the dearest site's rate: it may print elsewhere."
    )


class JobSerializer(serializers.ModelSerializer[Job]):
    """A job as its list shows it."""

    status = serializers.ChoiceField(choices=JOB_STATUSES, read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    material = serializers.CharField(source="material.name", read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Per cent of copies printed.")
    price = PriceSerializer(
        read_only=True, allow_null=True, help_text="Null until the file has been prepared."
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "owner",
            "file_kind",
            "status",
            "status_reason",
            "quantity",
            "material",
            "colour",
            "priority",
            "due",
            "site",
            "needed_at",
            "confirm_required",
            "supports",
            "submitted_at",
            "confirmed_at",
            "finished_at",
            "planned_start",
            "planned_end",
            "plan_note",
            "promised_end",
            "promise_confidence",
            "seconds_per_copy",
            "grams_per_copy",
            "held",
            "approval_reason",
            "approval_note",
            "progress",
            "price",
        ]
        read_only_fields = fields


class PromiseChangeSerializer(serializers.ModelSerializer[PromiseChange]):
    """One change of a job's promised completion, and why (old is null for the first)."""

    class Meta:
        model = PromiseChange
        fields = ["at", "old", "new", "reason"]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    """A job with its copies and runs, as its page shows it."""

    copies = CopiesSerializer(read_only=True)
    runs = RunSerializer(many=True, read_only=True)
    promise_changes = PromiseChangeSerializer(many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "notes", "copies", "runs", "promise_changes"]
        read_only_fields = fields


def optional_site(help_text: str) -> serializers.PrimaryKeyRelatedField[Site]:
    return serializers.PrimaryKeyRelatedField(
        queryset=Site.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=help_text,
    )


class JobSubmitSerializer(serializers.Serializer[Any]):
    """The submission form's fields; the service (`job_submit`) checks the file and the order."""

    file = serializers.FileField(help_text="A mesh (STL, OBJ, 3MF, PLY) or a G-code file.")
    material = serializers.PrimaryKeyRelatedField(queryset=Material.objects.all())
    quantity = serializers.IntegerField(default=1)
    colour = serializers.CharField(max_length=50, required=False, default="", allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    due = serializers.DateTimeField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
    site = optional_site("Print only at this site.")
    needed_at = optional_site("Printed at or near this site when that costs no more than a day.")
    confirm_required = serializers.BooleanField(
        default=True,
        help_text="Wait as quoted until confirmed (POST .../confirm/); false: queue at once.",
    )
    supports = serializers.ChoiceField(
        choices=Supports.choices,
        default=Supports.AUTO,
        help_text="Supports under overhangs (meshes): auto, the farm adds them where needed.",
    )


class LiveSerializer(serializers.Serializer[Any]):
    """What the fleet link last saw (farm.services.observation.live_entry)."""

    state = serializers.CharField(required=False)
    job_name = serializers.CharField(required=False, allow_null=True)
    progress = serializers.FloatField(required=False, allow_null=True)
    seconds_left = serializers.FloatField(required=False, allow_null=True)
    temperatures = serializers.DictField(child=serializers.JSONField(), required=False)
    message = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    at = serializers.CharField(required=False, help_text="When it was seen (ISO 8601).")


class PrinterSerializer(serializers.ModelSerializer[Printer]):
    """A printer and its live state: no connection settings, no secrets."""

    site = serializers.CharField(source="site.slug", read_only=True)
    material = serializers.CharField(source="material.name", read_only=True, allow_null=True)
    requested_material = serializers.CharField(
        source="requested_material.name", read_only=True, allow_null=True
    )
    state = serializers.ChoiceField(choices=PrinterState.choices, read_only=True)
    shown_state = serializers.CharField(
        read_only=True, help_text="What the dashboard shows (site down, maintenance, ...)."
    )
    current_job = serializers.IntegerField(
        source="current_run.job_id", read_only=True, allow_null=True
    )
    live = LiveSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Printer
        fields = [
            "id",
            "name",
            "site",
            "model",
            "build_x_mm",
            "build_y_mm",
            "build_z_mm",
            "nozzle_mm",
            "material",
            "colour",
            "connection_kind",
            "auto_eject",
            "enabled",
            "maintenance",
            "row",
            "position",
            "tags",
            "state",
            "state_message",
            "state_changed_at",
            "bed_clear",
            "requested_material",
            "requested_colour",
            "current_job",
            "shown_state",
            "live",
        ]
        read_only_fields = fields


class TokenSerializer(serializers.Serializer[Any]):
    """An API token of the user: only its first characters, never the token itself."""

    token_key = serializers.CharField(read_only=True, help_text="The token's first characters.")
    name = serializers.CharField(read_only=True, help_text="What uses it; empty: made unnamed.")
    created = serializers.DateTimeField(read_only=True)
    expiry = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="To the minute; null: never used."
    )


class TokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text='What will use it, e.g. "CI robot"; empty: "API token" and the date.',
    )


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown this once; kept hashed.")
