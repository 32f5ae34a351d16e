"""The floor's work lists (/operator/work/): beds to clear and filament to change.

Plain forms that work without a script (a POST, then back to the list with a message); with
farm/static/farm/work.js the same POST goes by fetch with `Accept: application/json` and the
confirmed items leave the list without a reload.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from farm.models import Printer, Site
from farm.roles import signed_in_user
from farm.services.fleet_feed import fleet_changes_publish
from farm.services.printer_actions import BulkOutcome
from farm.services.work_lists import (
    DECLINE_HOURS,
    ORDERS,
    ROUTE,
    filament_decline,
    filament_declines_current,
    filament_declines_lift,
    tasks_confirm,
    work_lists,
)
from farm.views.operator import operator_required


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def chosen_ids(request: HttpRequest, field: str) -> list[int]:
    """The ids a form chose: its own item's button (`one`) alone when that was tapped,
    else every ticked box."""
    one = request.POST.get("one", "")
    values = [one] if one else request.POST.getlist(field)
    return [int(v) for v in values if v.isdigit()]


def bulk_answer(request: HttpRequest, outcome: BulkOutcome, verb: str, back: str) -> HttpResponse:
    """JSON for a script, else a message and back to the list."""
    if wants_json(request):
        return JsonResponse(
            {
                "done": outcome.done,
                "failed": {str(pk): why for pk, why in outcome.skipped.items()},
                "message": outcome.summary(verb),
            }
        )
    level = messages.success if outcome.done else messages.error
    level(request, outcome.summary(verb))
    return redirect(back)


def refused(request: HttpRequest, exc: ValidationError, back: str) -> HttpResponse:
    text = " ".join(exc.messages)
    if wants_json(request):
        return JsonResponse({"done": [], "failed": {}, "message": text}, status=400)
    messages.error(request, text)
    return redirect(back)


def _back(request: HttpRequest) -> str:
    query = {k: request.POST.get(k, "") for k in ("site", "order") if request.POST.get(k)}
    return reverse("work") + ("?" + urlencode(query) if query else "")


@operator_required
def work(request: HttpRequest) -> HttpResponse:
    site = request.GET.get("site", "")[:100]
    order = request.GET.get("order", ROUTE)
    order = order if order in ORDERS else ROUTE
    lists = work_lists(site=site, order=order)
    return render(
        request,
        "farm/work.html",
        {
            "lists": lists,
            "declines": filament_declines_current(site=site),
            "site": site,
            "order": order,
            "sites": Site.objects.order_by("name").values_list("slug", "name"),
            "decline_hours": DECLINE_HOURS,
        },
    )


@operator_required
@require_POST
def work_beds(request: HttpRequest) -> HttpResponse:
    try:
        outcome = tasks_confirm(
            kind="bed", printer_ids=chosen_ids(request, "printer"), actor=signed_in_user(request)
        )
    except ValidationError as exc:
        return refused(request, exc, _back(request))
    return bulk_answer(request, outcome, "beds cleared", _back(request))


@operator_required
@require_POST
def work_filament(request: HttpRequest) -> HttpResponse:
    try:
        outcome = tasks_confirm(
            kind="filament",
            printer_ids=chosen_ids(request, "printer"),
            actor=signed_in_user(request),
        )
    except ValidationError as exc:
        return refused(request, exc, _back(request))
    return bulk_answer(request, outcome, "filament loaded", _back(request))


@operator_required
@require_POST
def work_filament_decline(request: HttpRequest, printer_id: int) -> HttpResponse:
    printer = get_object_or_404(Printer, pk=printer_id)
    try:
        hours = float(request.POST.get("hours", DECLINE_HOURS))
        filament_decline(
            printer=printer,
            actor=signed_in_user(request),
            reason=request.POST.get("reason", "").strip(),
            hours=hours,
        )
    except ValueError:
        return refused(request, ValidationError("Hours must be a number."), _back(request))
    except ValidationError as exc:
        return refused(request, exc, _back(request))
    fleet_changes_publish([printer.pk])
    text = f"{printer.name}: declined; the planner plans around it for {hours:g} h."
    if wants_json(request):
        return JsonResponse({"done": [printer.pk], "failed": {}, "message": text})
    messages.success(request, text)
    return redirect(_back(request))


@operator_required
@require_POST
def work_declines_lift(request: HttpRequest) -> HttpResponse:
    try:
        outcome = filament_declines_lift(
            printer_ids=chosen_ids(request, "printer"), actor=signed_in_user(request)
        )
    except ValidationError as exc:
        return refused(request, exc, _back(request))
    fleet_changes_publish(outcome.done)
    return bulk_answer(request, outcome, "declines lifted", _back(request))
