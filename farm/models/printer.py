from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from printers.states import DeviceState


class PrinterState(models.TextChoices):
    """The last state the fleet link saw (only transitions are written here)."""

    OFFLINE = DeviceState.OFFLINE.value, "Offline"
    CONNECTING = DeviceState.CONNECTING.value, "Connecting"
    READY = DeviceState.READY.value, "Ready"
    STARTING = DeviceState.STARTING.value, "Starting"
    PRINTING = DeviceState.PRINTING.value, "Printing"
    PAUSING = DeviceState.PAUSING.value, "Pausing"
    PAUSED = DeviceState.PAUSED.value, "Paused"
    CANCELLING = DeviceState.CANCELLING.value, "Cancelling"
    FINISHED = DeviceState.FINISHED.value, "Finished"
    ERROR = DeviceState.ERROR.value, "Error"


# A printer in one of these states, with nothing on its bed and no run, can start a print.
FREE_TO_START_STATES = frozenset({PrinterState.READY, PrinterState.FINISHED})


def free_to_start() -> models.Q:
    """The one definition of "this printer is free to start a run now", as a filter.

    The claim in `run_create` filters on it (so it cannot claim a printer in error), and
    `Printer.available` says the same of one row in memory.
    """
    return models.Q(
        enabled=True,
        maintenance=False,
        bed_clear=True,
        current_run__isnull=True,
        state__in=FREE_TO_START_STATES,
    )


class ConnectionKind(models.TextChoices):
    SIMULATED = "simulated", "Simulated"
    OCTOPRINT = "octoprint", "OctoPrint"
    SERIAL = "serial", "USB serial"


class Printer(models.Model):
    name = models.CharField(max_length=100, unique=True)
    site = models.ForeignKey("farm.Site", on_delete=models.PROTECT, related_name="printers")
    model = models.CharField(max_length=100, help_text="Printer model, e.g. Prusa MK4.")
    build_x_mm = models.FloatField(default=250, validators=[MinValueValidator(1)])
    build_y_mm = models.FloatField(default=210, validators=[MinValueValidator(1)])
    build_z_mm = models.FloatField(default=220, validators=[MinValueValidator(1)])
    nozzle_mm = models.FloatField(default=0.4, validators=[MinValueValidator(0.1)])
    material = models.ForeignKey(
        "farm.Material", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    colour = models.CharField(max_length=50, blank=True)
    connection_kind = models.CharField(
        max_length=20, choices=ConnectionKind.choices, default=ConnectionKind.SIMULATED
    )
    # Non-secret settings only (URL, port, baud, simulator knobs). Secrets such as API keys
    # are kept encrypted apart from this, and never shown back.
    connection_settings = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    auto_eject = models.BooleanField(
        default=False,
        help_text="Runs an ejection end script: the bed clears itself after a good print.",
    )
    enabled = models.BooleanField(default=True)
    maintenance = models.BooleanField(default=False, help_text="Out of service for maintenance.")
    # Where it stands on the floor, so the fleet view groups printers as people walk past them.
    row = models.CharField(max_length=50, blank=True, help_text="Row or rack, e.g. A or R12.")
    position = models.PositiveIntegerField(default=0, help_text="Place in its row or rack.")
    tags = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated labels to filter by, e.g. 0.6mm."
    )

    state = models.CharField(
        max_length=20, choices=PrinterState.choices, default=PrinterState.OFFLINE
    )
    state_message = models.CharField(max_length=200, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    bed_clear = models.BooleanField(default=True, help_text="Nothing on the bed.")
    # The scheduler's request to an operator: load this before the next run.
    requested_material = models.ForeignKey(
        "farm.Material", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_colour = models.CharField(max_length=50, blank=True)
    current_run = models.OneToOneField(
        "farm.PrintRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["site__name", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def device_id(self) -> str:
        return f"printer-{self.pk}"

    @property
    def build_volume(self) -> tuple[float, float, float]:
        return (self.build_x_mm, self.build_y_mm, self.build_z_mm)

    @property
    def available(self) -> bool:
        """Can the scheduler start a run here right now (`free_to_start`, for this row)."""
        return (
            self.enabled
            and not self.maintenance
            and self.bed_clear
            and self.current_run_id is None
            and self.state in FREE_TO_START_STATES
        )
