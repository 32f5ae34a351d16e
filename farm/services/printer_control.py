"""Acting on one printer: its driver, operators' commands (pause, resume, cancel), filament."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from farm.models import Material, Printer
from farm.models.event import EventKind
from farm.services.enqueue import enqueue_printer_command, enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.printer_secrets import connection_settings
from farm.statuses import RUN_OPEN
from printers.commands import PrinterCommand
from printers.drivers import Driver, driver_for

# What an operator may ask from the dashboard; clearing an error follows a bed clear instead.
# Connect asks a host (OctoPrint) that is not connected to its printer to connect now.
OPERATOR_COMMANDS = frozenset(
    {PrinterCommand.PAUSE, PrinterCommand.RESUME, PrinterCommand.CANCEL, PrinterCommand.CONNECT}
)


def printer_driver(printer: Printer) -> Driver:
    return driver_for(
        printer.connection_kind,
        device_id=printer.device_id,
        settings=connection_settings(printer),
    )


def printer_command_request(*, printer: Printer, command: PrinterCommand, actor: User) -> None:
    """An operator asks a printer to pause, resume or cancel: recorded, then sent by a worker.

    What the printer then does reaches the farm through the fleet link, like any other change.
    """
    if command not in OPERATOR_COMMANDS:
        raise ValidationError(f"{command} is not a command an operator sends.")
    with transaction.atomic():
        event_record(
            EventKind.PRINTER_COMMAND_REQUESTED,
            printer=printer,
            actor=actor,
            message=f"{command} requested",
            command=command.value,
        )
        enqueue_printer_command(printer.pk, command)


def printer_command(*, printer_id: int, command: PrinterCommand) -> None:
    """Send a command to the printer now (in a dispatch worker)."""
    printer = Printer.objects.get(pk=printer_id)
    printer_driver(printer).run_command(command)


def printer_load_filament(
    *, printer: Printer, material: Material, colour: str, actor: User | None
) -> None:
    """An operator loaded filament: the printer now holds it (and its request is met)."""
    with transaction.atomic():
        printer = Printer.objects.select_for_update().get(pk=printer.pk)
        run = printer.current_run
        if run is not None and run.status in RUN_OPEN:
            raise ValidationError(f"{printer.name} is printing; swap filament after the print.")
        old = f"{printer.material or 'nothing'} {printer.colour}".strip()
        printer.material = material
        printer.colour = colour
        printer.requested_material = None
        printer.requested_colour = ""
        printer.save(update_fields=["material", "colour", "requested_material", "requested_colour"])
        event_record(
            EventKind.PRINTER_FILAMENT_LOADED,
            printer=printer,
            actor=actor,
            message=f"{old} -> {material} {colour}".strip(),
        )
        enqueue_schedule_pass()
