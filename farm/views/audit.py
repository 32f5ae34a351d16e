"""The audit log: who did what, from the farm's events and the admin console's change log.

Both tables are read as one time-ordered list (a UNION of two value querysets, so paging and
counting happen in the database): `farm.models.Event` rows (submit, confirm, cancel, printer
commands, filament, bed clear, run decisions, each with its actor) and Django's admin
`LogEntry` rows (every add, change and delete in the admin console, with the fields changed).
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.db.models import CharField, F, IntegerField, QuerySet, Value
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from farm.models import Event, Job, Printer
from farm.models.event import EventKind
from farm.views.operator import operator_required

PAGE_SIZE = 50
ADMIN_KINDS = {ADDITION: "admin.added", CHANGE: "admin.changed", DELETION: "admin.deleted"}
KIND_CHOICES = sorted({k.value for k in EventKind} | set(ADMIN_KINDS.values()))
COLUMNS = ("at", "kind", "actor_id", "job_id", "printer_id", "message", "target", "source")


def _events(filters: dict[str, Any], people_only: bool) -> QuerySet[Any]:
    rows = Event.objects.all()
    if people_only:
        rows = rows.filter(actor__isnull=False)
    if filters.get("actor"):
        rows = rows.filter(actor__username=filters["actor"])
    if filters.get("kind"):
        rows = rows.filter(kind__startswith=filters["kind"])
    if filters.get("job"):
        rows = rows.filter(job_id=filters["job"])
    if filters.get("printer"):
        rows = rows.filter(printer__name=filters["printer"])
    return (
        rows.order_by()  # a side of a UNION takes no ORDER BY
        .annotate(
            target=Value("", output_field=CharField()),
            source=Value("farm", output_field=CharField()),
        )
        .values_list(*COLUMNS)
    )


def _admin_entries(filters: dict[str, Any]) -> QuerySet[Any]:
    rows = LogEntry.objects.all()
    if filters.get("actor"):
        rows = rows.filter(user__username=filters["actor"])
    if filters.get("kind"):
        flags = [flag for flag, kind in ADMIN_KINDS.items() if kind.startswith(filters["kind"])]
        rows = rows.filter(action_flag__in=flags)
    if filters.get("job"):
        rows = rows.filter(
            content_type=ContentType.objects.get_for_model(Job), object_id=str(filters["job"])
        )
    if filters.get("printer"):
        ids = Printer.objects.filter(name=filters["printer"]).values_list("pk", flat=True)
        rows = rows.filter(
            content_type=ContentType.objects.get_for_model(Printer),
            object_id__in=[str(i) for i in ids],
        )
    kind = F("action_flag")  # mapped to its name when the page is shown
    return (
        rows.order_by()
        .annotate(
            at=F("action_time"),
            kind=Cast(kind, output_field=CharField()),
            actor_id=F("user_id"),
            job_id=Value(None, output_field=IntegerField()),
            printer_id=Value(None, output_field=IntegerField()),
            message=F("change_message"),
            target=F("object_repr"),
            source=Value("admin", output_field=CharField()),
        )
        .values_list(*COLUMNS)
    )


def audit_rows(filters: dict[str, Any], *, people_only: bool = True) -> QuerySet[Any]:
    """Every farm event and admin change matching `filters` (actor: a user name; kind: a
    prefix such as "job." or "admin."; job: an id; printer: a name), newest first, as tuples
    of COLUMNS."""
    return _events(filters, people_only).union(_admin_entries(filters), all=True).order_by("-at")


def _present(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Names for the ids of one page, fetched in three queries."""
    items = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    users = User.objects.in_bulk({i["actor_id"] for i in items if i["actor_id"]})
    jobs = Job.objects.only("name").in_bulk({i["job_id"] for i in items if i["job_id"]})
    printers = Printer.objects.only("name").in_bulk(
        {i["printer_id"] for i in items if i["printer_id"]}
    )
    for item in items:
        item["actor"] = users.get(item["actor_id"])
        item["job"] = jobs.get(item["job_id"])
        item["printer"] = printers.get(item["printer_id"])
        if item["source"] == "admin":
            flag = int(item["kind"])
            item["kind"] = ADMIN_KINDS.get(flag, "admin")
            item["message"] = LogEntry(
                action_flag=flag, change_message=item["message"]
            ).get_change_message()
    return items


def _filters(request: HttpRequest) -> dict[str, Any]:
    raw = {key: request.GET.get(key, "").strip() for key in ("actor", "kind", "job", "printer")}
    if raw["job"] and not raw["job"].isdigit():
        raw["job"] = "0"  # no job has that id: an empty list, not an error
    return raw


@operator_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """/operator/audit/: operators and administrators see who did what, filtered and paged."""
    filters = _filters(request)
    people_only = request.GET.get("system") != "1"
    page = Paginator(audit_rows(filters, people_only=people_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": _present(list(page.object_list)),
        "filters": filters,
        "system": not people_only,
        "kinds": KIND_CHOICES,
        "query": query.urlencode(),
    }
    return render(request, "farm/audit.html", context)
