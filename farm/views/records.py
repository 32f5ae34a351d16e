"""The operator's records pages: maintenance (/operator/maintenance/) and filament
(/operator/spools/). Thin: the services in farm.services.maintenance and spools decide."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from farm.models import MaintenanceHold, MaintenanceLog, Printer, Spool
from farm.records_forms import MaintenanceWorkForm, SpoolForm, SpoolLoadForm
from farm.roles import signed_in_user
from farm.services.maintenance import failure_rates, maintenance_log_work, maintenance_overview
from farm.services.spools import spool_archive, spool_load, spool_unload, stock_levels
from farm.views.operator import operator_required

SHOWN_DUE = 200  # the most urgent schedule-printer pairs on the page


@operator_required
def maintenance(request: HttpRequest) -> HttpResponse:
    overview = maintenance_overview()
    flags = failure_rates()
    # The 50 worst are shown: only their rows are read (a farm has thousands of printers).
    worst = sorted(flags, key=lambda pk: (not flags[pk].flagged, -flags[pk].rate, pk))[:50]
    names = Printer.objects.in_bulk(worst)
    failing = [(names[pk], flags[pk]) for pk in worst if pk in names]
    context = {
        "due": overview.due[:SHOWN_DUE],
        "upcoming": overview.upcoming,
        "counted_at": overview.at,
        "holds": MaintenanceHold.objects.select_related("printer").order_by("since")[:SHOWN_DUE],
        "held": MaintenanceHold.objects.values("printer").distinct().count(),
        "failing": failing,
        "flagged": sum(1 for f in flags.values() if f.flagged),
        "log": MaintenanceLog.objects.select_related("printer", "schedule", "done_by")[:50],
        "form": MaintenanceWorkForm(initial={"printer": request.GET.get("printer")}),
    }
    return render(request, "farm/maintenance.html", context)


@operator_required
@require_POST
def maintenance_work(request: HttpRequest) -> HttpResponse:
    form = MaintenanceWorkForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not logged: {form.errors.as_text()}")
        return redirect("maintenance")
    printer = form.cleaned_data["printer"]
    try:
        maintenance_log_work(
            printer=printer,
            schedule=form.cleaned_data["schedule"],
            note=form.cleaned_data["note"],
            actor=signed_in_user(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("maintenance")
    messages.success(request, f"Logged the work on {printer.name}.")
    return redirect("maintenance")


@operator_required
def spools(request: HttpRequest) -> HttpResponse:
    show_archived = request.GET.get("archived") == "1"
    rows = Spool.objects.select_related("material", "printer").filter(archived=show_archived)
    material = request.GET.get("material", "").strip()
    if material:
        rows = rows.filter(material__name__iexact=material)
    if request.method == "POST":
        form = SpoolForm(request.POST)
        if form.is_valid():
            spool = form.save()
            messages.success(request, f"Added spool #{spool.pk}.")
            return redirect("spools")
    else:
        form = SpoolForm()
    context = {
        "stock": stock_levels(),
        "spools": rows[:500],
        "count": rows.aggregate(n=Count("pk"))["n"],
        "form": form,
        "printer_names": Printer.objects.order_by("name").values_list("name", flat=True),
        "material": material,
        "show_archived": show_archived,
    }
    return render(request, "farm/spools.html", context)


@operator_required
@require_POST
def spool_action(request: HttpRequest, spool_id: int, action: str) -> HttpResponse:
    spool = get_object_or_404(Spool.objects.select_related("material", "printer"), pk=spool_id)
    actor = signed_in_user(request)
    try:
        if action == "load":
            form = SpoolLoadForm(request.POST)
            if not form.is_valid():
                raise ValidationError("Choose a printer.")
            spool_load(spool=spool, printer=form.cleaned_data["printer"], actor=actor)
            messages.success(request, f"Spool #{spool.pk} is on {form.cleaned_data['printer']}.")
        elif action == "unload":
            spool_unload(spool=spool, actor=actor, location=request.POST.get("location", ""))
            messages.success(request, f"Spool #{spool.pk} is off its printer.")
        elif action == "archive":
            spool_archive(spool=spool, actor=actor)
            messages.success(request, f"Spool #{spool.pk} is archived.")
        else:
            return HttpResponse("No such action.", status=404)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("spools")
