"""The operator's floor view: every printer at a glance, the queue, and bed clearing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from farm.models import Job, Printer, PrintRun
from farm.models.printer import ConnectionKind, PrinterState
from farm.roles import is_operator, signed_in_user
from farm.services.doubt import run_accept, run_reprint, runs_in_doubt_too_long
from farm.services.fleet_feed import fleet_changes_publish
from farm.services.fleet_view import (
    PAGE_SIZE,
    Brief,
    FleetFilters,
    fleet_briefs,
    fleet_page,
    shown_state,
)
from farm.services.observation import printer_live
from farm.services.printer_control import (
    OPERATOR_COMMANDS,
    printer_command_request,
    printer_load_filament,
)
from farm.services.runs import bed_clear
from farm.services.sites import SiteReport, sites_report
from farm.statuses import RUN_OPEN, JobStatus, RunStatus
from printers.commands import PrinterCommand

View = Callable[..., HttpResponse]


def operator_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_operator(request.user):
            raise PermissionDenied("Operators only.")
        return view(request, *args, **kwargs)

    return wrapped


def printer_rows(
    sites: list[SiteReport] | None = None, printer_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """What each printer's card shows: every printer by site and name, or those of
    `printer_ids` in that order."""
    sites = sites_report() if sites is None else sites
    down = {report.site.pk for report in sites if report.shown_down}
    query = Printer.objects.select_related(
        "site", "material", "requested_material", "current_run__job"
    )
    if printer_ids is None:
        printers = list(query.order_by("site__name", "name"))
    else:
        by_id = {p.pk: p for p in query.filter(pk__in=printer_ids)}
        printers = [by_id[pk] for pk in printer_ids if pk in by_id]
    live = printer_live([p.pk for p in printers])
    overdue = set(runs_in_doubt_too_long().values_list("pk", flat=True))
    rows = []
    for p in printers:
        run = p.current_run
        state = shown_state(
            state=live.get(p.pk, {}).get("state", p.state),
            maintenance=p.maintenance,
            enabled=p.enabled,
            site_down=p.site_id in down,
            bed_clear=p.bed_clear,
            run=run is not None,
        )
        awaiting = run is not None and run.status == RunStatus.AWAITING_REMOVAL
        in_doubt = run is not None and run.status == RunStatus.IN_DOUBT
        rows.append(
            {
                "printer": p,
                "run": run,
                "state": state,
                "live": live.get(p.pk, {}),
                "show_progress": state != PrinterState.FINISHED,
                "show_message": state in (PrinterState.ERROR, PrinterState.OFFLINE),
                # The farm connects OctoPrint by itself, with back-off; this is "now, please".
                "can_connect": p.connection_kind == ConnectionKind.OCTOPRINT
                and state in (PrinterState.OFFLINE, PrinterState.ERROR),
                "needs_clearing": not p.bed_clear and (run is None or run.status not in RUN_OPEN),
                "awaiting_removal": awaiting,
                "in_doubt": in_doubt,
                # Past the limit an operator may stop waiting and print the copies elsewhere.
                "in_doubt_overdue": in_doubt and run is not None and run.pk in overdue,
                "interrupted": run is not None and run.status == RunStatus.INTERRUPTED,
            }
        )
    return rows


@operator_required
def dashboard(request: HttpRequest) -> HttpResponse:
    sites = sites_report()
    # A small farm shows every printer; a large one only those that need someone, a page at
    # most (the fleet view has the rest): the refresh every 2 s must not carry 10,000 cards.
    briefs = fleet_briefs(down_site_ids={r.site.pk for r in sites if r.shown_down})
    small = len(briefs) <= PAGE_SIZE
    page = fleet_page(briefs, FleetFilters() if small else FleetFilters(state="attention"))
    rows = printer_rows(sites, page.ids)
    queue = (
        Job.objects.filter(
            status__in=(JobStatus.SUBMITTED, JobStatus.QUOTED, JobStatus.QUEUED, JobStatus.PRINTING)
        )
        .select_related("owner", "material")
        .order_by("-priority", "planned_start", "submitted_at")[:200]
    )
    finished = (
        Job.objects.filter(status__in=(JobStatus.DONE, JobStatus.REJECTED, JobStatus.CANCELLED))
        .exclude(finished_at=None)
        .select_related("owner", "material")
        .order_by("-finished_at")[:15]
    )
    held = Printer.objects.filter(current_run__status=RunStatus.INTERRUPTED).count()
    context = {
        "sites_down": [report for report in sites if report.shown_down],
        "rows": rows,
        "printers_not_shown": len(briefs) - len(rows),
        "queue": queue,
        "finished": finished,
        "state_counts": sorted(page.counts.items()) if small else sorted(_counts(briefs).items()),
        "to_clear": Printer.objects.filter(bed_clear=False)
        .exclude(current_run__status__in=RUN_OPEN)
        .count(),
        "to_decide": held + runs_in_doubt_too_long().count(),
        "to_load": Printer.objects.exclude(requested_material=None).count(),
    }
    if request.GET.get("partial"):
        return render(request, "farm/_dashboard_body.html", context)
    return render(request, "farm/dashboard.html", context)


def _counts(briefs: list[Brief]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for brief in briefs:
        counts[brief.state] = counts.get(brief.state, 0) + 1
    return counts


def _printer_action(
    request: HttpRequest, action: Callable[[], None], done: str, *, printer_id: int
) -> HttpResponse:
    """Run one printer service; its refusal (ValidationError) is shown, not raised. Back to
    the fleet view when the action came from there, else to the dashboard."""
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
        fleet_changes_publish([printer_id])  # open fleet views show its new card
    referer = request.META.get("HTTP_REFERER", "")
    fleet_path = reverse("fleet")
    if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) and urlsplit(
        referer
    ).path.startswith(fleet_path):
        return redirect(referer)
    return redirect("operator-dashboard")


@operator_required
@require_POST
def printer_bed_clear(request: HttpRequest, printer_id: int) -> HttpResponse:
    printer = get_object_or_404(Printer, pk=printer_id)
    return _printer_action(
        request,
        lambda: bed_clear(printer=printer, actor=signed_in_user(request)),
        f"{printer.name}: bed cleared, ready for the next job.",
        printer_id=printer.pk,
    )


@operator_required
@require_POST
def printer_filament_loaded(request: HttpRequest, printer_id: int) -> HttpResponse:
    """The operator loaded the filament the scheduler asked for."""
    printer = get_object_or_404(Printer.objects.select_related("requested_material"), pk=printer_id)
    material = printer.requested_material
    if material is None:
        messages.info(request, f"{printer.name}: no filament change is asked for.")
        return redirect("operator-dashboard")
    return _printer_action(
        request,
        lambda: printer_load_filament(
            printer=printer,
            material=material,
            colour=printer.requested_colour,
            actor=signed_in_user(request),
        ),
        f"{printer.name}: {material} loaded.",
        printer_id=printer.pk,
    )


@operator_required
@require_POST
def printer_command(request: HttpRequest, printer_id: int, command: str) -> HttpResponse:
    if command not in OPERATOR_COMMANDS:
        raise PermissionDenied("Unknown command.")
    printer = get_object_or_404(Printer, pk=printer_id)
    return _printer_action(
        request,
        lambda: printer_command_request(
            printer=printer, command=PrinterCommand(command), actor=signed_in_user(request)
        ),
        f"{printer.name}: {command} sent.",
        printer_id=printer.pk,
    )


# What an operator can decide about a print in doubt or interrupted, and what they are told.
RUN_DECISIONS: dict[str, tuple[Callable[..., None], str]] = {
    "good": (run_accept, "the part counts as printed; the printer is free."),
    "reprint": (run_reprint, "the copies go back to the queue; clear its bed when you can."),
}


@operator_required
@require_POST
def run_decide(request: HttpRequest, run_id: int, decision: str) -> HttpResponse:
    """An operator's word on an interrupted print (good, or lost) or one long in doubt."""
    if decision not in RUN_DECISIONS:
        raise PermissionDenied("Unknown decision.")
    service, done = RUN_DECISIONS[decision]
    run = get_object_or_404(PrintRun.objects.select_related("printer"), pk=run_id)
    return _printer_action(
        request,
        lambda: service(run=run, actor=signed_in_user(request)),
        f"{run.printer.name}: {done}",
        printer_id=run.printer_id,
    )
