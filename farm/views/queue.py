"""The queue (/operator/queue/): every waiting job with its planned printer, start and end, a
page at a time; hold and release, priority, site and cancel for one job or the ticked ones;
and each printer's next 24 hours as a timeline (server-rendered SVG)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from farm.models import Job, Printer, PrintRun, Site
from farm.models.job import Priority
from farm.roles import signed_in_user
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
    on = planned_printers(planned)
    shown = {pk for job in page for pk in on.get(job.pk, [])[:1]}
    names = dict(Printer.objects.filter(pk__in=shown).values_list("pk", "name"))
    rows = []
    for job in page:
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
        messages.error(request, "Choose what to do.")
        return redirect(back)
    actor = signed_in_user(request)
    printing = Job.objects.filter(pk__in=ids, runs__status__in=RUN_ACTIVE).distinct()
    if action == "cancel" and printing.exists() and request.POST.get("confirmed") != "yes":
        return render(
            request,
            "farm/queue_confirm.html",
            {"ids": ids, "printing": printing[:50], "query": request.POST.get("query", "")},
        )
    try:
        outcome, verb = _act(request, action, ids, actor)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    queue_plan_forget()
    (messages.success if outcome.done else messages.error)(request, outcome.summary(verb))
    return redirect(back)


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
