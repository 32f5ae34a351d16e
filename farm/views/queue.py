"""The queue (/operator/queue/): every waiting job with its planned printer, start and end, a
page at a time; hold and release, priority, site and cancel for one job or the ticked ones;
and each printer's next 24 hours as a timeline (server-rendered SVG)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from farm.models import Job, Printer, PrintRun, Site
from farm.models.job import Priority
from farm.roles import signed_in_user
from farm.scheduling import Assignment
from farm.services.printer_actions import BulkOutcome
from farm.services.queue_actions import (
    jobs_cancel,
    jobs_hold,
    jobs_move_site,
    jobs_set_priority,
)
from farm.services.queue_plan import (
    planned_printers,
    queue_plan,
    queue_plan_forget,
    queue_timeline,
)
from farm.statuses import JOB_OPEN, RUN_ACTIVE
from farm.views.operator import operator_required
from farm.views.work import refused, wants_json

JOBS_PER_PAGE = 50
ACTIONS = ("hold", "release", "priority", "site", "cancel")


def waiting_jobs(*, site: str = "", held: str = "") -> QuerySet[Job]:
    jobs = Job.objects.filter(status__in=JOB_OPEN).select_related("owner", "material", "site")
    if site:
        jobs = jobs.filter(site__slug=site)
    if held == "yes":
        jobs = jobs.filter(held=True)
    elif held == "no":
        jobs = jobs.filter(held=False)
    active = PrintRun.objects.filter(status__in=RUN_ACTIVE).select_related("printer")
    return jobs.prefetch_related(Prefetch("runs", queryset=active, to_attr="active_runs")).order_by(
        "held",
        "-priority",
        F("planned_start").asc(nulls_last=True),
        "submitted_at",
        "pk",
    )


@operator_required
def queue(request: HttpRequest) -> HttpResponse:
    site = request.GET.get("site", "")[:100]
    held = request.GET.get("held", "")
    page = Paginator(waiting_jobs(site=site, held=held), JOBS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    planned = queue_plan()
    rows = queue_rows(list(page), planned)
    query = {k: v for k, v in (("site", site), ("held", held)) if v}
    return render(
        request,
        "farm/queue.html",
        {
            "rows": rows,
            "page": page,
            "site": site,
            "held": held,
            "sites": Site.objects.order_by("name").values_list("slug", "name"),
            "priorities": Priority.choices,
            "timeline": queue_timeline(planned, site=site),
            "query": urlencode(query),
        },
    )


def queue_rows(jobs: list[Job], planned: list[Assignment]) -> list[dict[str, Any]]:
    """What each job's row shows (farm/_queue_row.html): its first planned printer, by name."""
    on = planned_printers(planned)
    shown = {pk for job in jobs for pk in on.get(job.pk, [])[:1]}
    names = dict(Printer.objects.filter(pk__in=shown).values_list("pk", "name"))
    rows = []
    for job in jobs:
        printers = on.get(job.pk, [])
        rows.append(
            {
                "job": job,
                "printer": names.get(printers[0]) if printers else None,
                "printer_id": printers[0] if printers else None,
                "more_printers": max(0, len(printers) - 1),
                "printing": job.active_runs,  # type: ignore[attr-defined]
            }
        )
    return rows


def _chosen(request: HttpRequest) -> tuple[str, list[int]]:
    """(action, job ids): a row's own button ("hold:12") alone, else the bulk controls."""
    row = request.POST.get("row", "")
    if ":" in row:
        action, _, pk = row.partition(":")
        return action, [int(pk)] if pk.isdigit() else []
    ids = [int(v) for v in request.POST.getlist("job") if v.isdigit()]
    return request.POST.get("action", ""), ids


@operator_required
@require_POST
def queue_act(request: HttpRequest) -> HttpResponse:
    action, ids = _chosen(request)
    back = reverse("queue") + ("?" + request.POST["query"] if request.POST.get("query") else "")
    if action not in ACTIONS:
        return refused(request, ValidationError("Choose what to do."), back)
    actor = signed_in_user(request)
    printing = Job.objects.filter(pk__in=ids, runs__status__in=RUN_ACTIVE).distinct()
    if action == "cancel" and printing.exists() and request.POST.get("confirmed") != "yes":
        if wants_json(request):  # queue.js confirms in the browser first (bulk.js)
            return JsonResponse({"message": "Confirm first: prints would be lost."}, status=409)
        return render(
            request,
            "farm/queue_confirm.html",
            {"ids": ids, "printing": printing[:50], "query": request.POST.get("query", "")},
        )
    try:
        outcome, verb = _act(request, action, ids, actor)
    except ValidationError as exc:
        return refused(request, exc, back)
    queue_plan_forget()
    if wants_json(request):
        return _answer(request, outcome, verb, ids)
    (messages.success if outcome.done else messages.error)(request, outcome.summary(verb))
    return redirect(back)


def _answer(request: HttpRequest, outcome: BulkOutcome, verb: str, ids: list[int]) -> HttpResponse:
    """For queue.js: each acted-on job's row drawn anew, and the jobs no longer waiting (a
    cancelled one) to take off the page, so the page is not reloaded."""
    jobs = list(waiting_jobs().filter(pk__in=ids))
    rows = {
        str(row["job"].pk): render_to_string("farm/_queue_row.html", {"row": row}, request)
        for row in queue_rows(jobs, queue_plan())
    }
    still = {job.pk for job in jobs}
    return JsonResponse(
        {
            "rows": rows,
            "gone": [pk for pk in ids if pk not in still],
            "failed": {str(pk): why for pk, why in outcome.skipped.items()},
            "message": outcome.summary(verb),
        }
    )


def _act(request: HttpRequest, action: str, ids: list[int], actor: User) -> tuple[BulkOutcome, str]:
    if action in ("hold", "release"):
        held = action == "hold"
        return jobs_hold(job_ids=ids, held=held, actor=actor), "held" if held else "released"
    if action == "priority":
        try:
            priority = int(request.POST.get("priority", ""))
        except ValueError:
            raise ValidationError("Choose a priority.") from None
        return jobs_set_priority(job_ids=ids, priority=priority, actor=actor), "priority set"
    if action == "site":
        slug = request.POST.get("to_site", "")
        target = Site.objects.filter(slug=slug).first() if slug else None
        if slug and target is None:
            raise ValidationError("No such site.")
        return jobs_move_site(job_ids=ids, site=target, actor=actor), "moved"
    return jobs_cancel(job_ids=ids, actor=actor), "cancelled"
