"""A printer's own page (/operator/printers/<id>/): live state, a temperature chart, the job
on it with its layer preview, its runs and what became of them, and its controls.

Controls that would lose a print (cancel with a print on the printer) ask first: with a
script, a confirm dialog; without one, a confirmation page. The server decides, so a
script-less or hand-made POST cannot skip the question.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from farm.models import Printer
from farm.roles import signed_in_user
from farm.services.fleet_feed import fleet_changes_publish
from farm.services.maintenance import printer_maintenance
from farm.services.observation import printer_live
from farm.services.printer_actions import printers_set_service
from farm.services.printer_control import printer_command_request
from farm.services.printer_history import (
    printer_events,
    printer_run_summary,
    printer_runs,
    temperature_series,
)
from farm.statuses import RUN_ACTIVE, RunStatus
from farm.views.operator import operator_required, printer_rows
from printers.commands import PrinterCommand

RUNS_PER_PAGE = 20
# Control name -> its button's label.
CONTROLS = {
    "connect": "Connect now",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel the print",
    "out_of_service": "Take out of service",
    "in_service": "Back in service",
}
LOSES_PRINT = frozenset({"cancel"})


def _printer(printer_id: int) -> Printer:
    return get_object_or_404(
        Printer.objects.select_related("site", "material", "current_run__job"), pk=printer_id
    )


def available_controls(printer: Printer) -> list[str]:
    """The controls that make sense for the printer now, in the order shown."""
    run = printer.current_run
    active = run is not None and run.status in RUN_ACTIVE
    shown = ["connect"]
    if active and run is not None:
        shown.append("resume" if run.status == RunStatus.PAUSED else "pause")
        shown.append("cancel")
    shown.append("in_service" if printer.maintenance else "out_of_service")
    return shown


def layer_now(printer: Printer, live: dict[str, object]) -> int:
    """The layer the print is at, guessed from its progress (by time, so roughly)."""
    run = printer.current_run
    if run is None or not run.job.layers:
        return 0
    progress = live.get("progress")
    fraction = float(progress) if isinstance(progress, int | float) else run.progress
    return min(run.job.layers - 1, max(0, int(fraction * run.job.layers)))


@operator_required
def printer_page(request: HttpRequest, printer_id: int) -> HttpResponse:
    printer = _printer(printer_id)
    [row] = printer_rows(printer_ids=[printer.pk])
    runs = Paginator(printer_runs(printer), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    live = row["live"]
    run = printer.current_run
    context = {
        "printer": printer,
        "row": row,
        "live": live,
        "run": run,
        "active": run is not None and run.status in RUN_ACTIVE,
        "seen": _seen(live),
        "layer": layer_now(printer, live),
        "runs": runs,
        "summary": printer_run_summary(printer),
        "maintenance": printer_maintenance(printer=printer),
        "events": printer_events(printer),
        "controls": [
            (name, CONTROLS[name], name in LOSES_PRINT) for name in available_controls(printer)
        ],
    }
    return render(request, "farm/printer_page.html", context)


def _seen(live: dict[str, object]) -> datetime.datetime | None:
    at = live.get("at")
    try:
        return datetime.datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        return None


@operator_required
def printer_live_json(request: HttpRequest, printer_id: int) -> HttpResponse:
    """The printer's live entry and its last hour of temperatures, for the page's chart."""
    printer = get_object_or_404(Printer, pk=printer_id)
    live = printer_live([printer.pk]).get(printer.pk, {})
    series = temperature_series(printer.pk, now=timezone.now())
    return JsonResponse(
        {
            "state": live.get("state", printer.state),
            "progress": live.get("progress"),
            "seconds_left": live.get("seconds_left"),
            "temperatures": live.get("temperatures", {}),
            "at": live.get("at"),
            "series": series.as_json(),
        }
    )


@operator_required
@require_POST
def printer_control(request: HttpRequest, printer_id: int) -> HttpResponse:
    printer = _printer(printer_id)
    control = request.POST.get("control", "")
    if control not in CONTROLS:
        messages.error(request, "Unknown control.")
        return redirect("printer-page", printer.pk)
    run = printer.current_run
    active = run is not None and run.status in RUN_ACTIVE
    if control in LOSES_PRINT and active and request.POST.get("confirmed") != "yes":
        return render(
            request,
            "farm/printer_confirm.html",
            {"printer": printer, "run": run, "control": control, "label": CONTROLS[control]},
        )
    actor = signed_in_user(request)
    try:
        if control in ("out_of_service", "in_service"):
            outcome = printers_set_service(
                printer_ids=[printer.pk], in_service=control == "in_service", actor=actor
            )
            if not outcome.done:
                raise ValidationError(f"{printer.name}: {outcome.skipped[printer.pk]}.")
            done = (
                f"{printer.name}: back in service."
                if control == "in_service"
                else f"{printer.name}: out of service; a print under way goes on, no new work."
            )
        else:
            printer_command_request(printer=printer, command=PrinterCommand(control), actor=actor)
            fleet_changes_publish([printer.pk])
            done = f"{printer.name}: {control} sent."
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("printer-page", printer.pk)
