"""Bulk actions on printers from the fleet view: the ticked printers, or every printer the
view's filters select (a row, a model, a site: all pages), acted on once."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from farm.models import Job, Printer
from farm.roles import signed_in_user
from farm.services.fleet_view import FleetFilters, fleet_briefs, fleet_select
from farm.services.printer_actions import (
    BulkOutcome,
    job_send_to_printers,
    printers_command,
    printers_set_service,
)
from farm.services.sites import sites_report
from farm.statuses import RUN_ACTIVE
from farm.views.operator import operator_required
from printers.commands import PrinterCommand

COMMANDS = ("pause", "resume", "cancel")
ACTIONS = (*COMMANDS, "out_of_service", "in_service", "send")


def _printer_ids(request: HttpRequest, filters: FleetFilters) -> list[int]:
    if request.POST.get("scope") == "filtered":
        down = {r.site.pk for r in sites_report() if r.shown_down}
        return fleet_select(fleet_briefs(down_site_ids=down), filters)
    return [int(v) for v in request.POST.getlist("printer") if v.isdigit()]


@operator_required
@require_POST
def fleet_bulk(request: HttpRequest) -> HttpResponse:
    filters = FleetFilters.from_query(request.POST)
    back = reverse("fleet") + ("?" + urlencode(filters.as_query()) if filters.as_query() else "")
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, "Choose what to do.")
        return redirect(back)
    ids = _printer_ids(request, filters)
    printing = Printer.objects.filter(pk__in=ids, current_run__status__in=RUN_ACTIVE)
    if action == "cancel" and printing.exists() and request.POST.get("confirmed") != "yes":
        return render(
            request,
            "farm/bulk_confirm.html",
            {
                "ids": ids,
                "printing": printing.count(),
                "filters": filters.as_query(),
                "names": list(printing.values_list("name", flat=True)[:20]),
            },
        )
    try:
        outcome, verb = _act(request, action, ids, signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    (messages.success if outcome.done else messages.error)(request, outcome.summary(verb))
    return redirect(back)


def _act(request: HttpRequest, action: str, ids: list[int], actor: User) -> tuple[BulkOutcome, str]:
    if action in COMMANDS:
        command = PrinterCommand(action)
        return printers_command(printer_ids=ids, command=command, actor=actor), f"{action} sent"
    if action in ("out_of_service", "in_service"):
        back = action == "in_service"
        outcome = printers_set_service(
            printer_ids=ids,
            in_service=back,
            actor=actor,
            reason=request.POST.get("reason", "").strip()[:200],
        )
        return outcome, "back in service" if back else "out of service"
    job_id = request.POST.get("job", "")
    job = Job.objects.filter(pk=int(job_id)).first() if job_id.isdigit() else None
    if job is None:
        raise ValidationError("Give the number of the job whose file to send.")
    return job_send_to_printers(job=job, printer_ids=ids, actor=actor), f"#{job.pk} sent"
