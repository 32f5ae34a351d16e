"""The fleet view: every printer of a large farm, filtered, grouped, a page at a time, kept
current by asking the change feed what changed (farm/services/fleet_feed.py)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import urlencode

from farm.services.fleet_feed import fleet_changes_since, fleet_cursor_now
from farm.services.fleet_view import (
    PAGE_SIZE,
    FleetFilters,
    FleetPage,
    fleet_briefs,
    fleet_page,
)
from farm.services.sites import SiteReport, sites_report
from farm.views.operator import operator_required, printer_rows

LIVE_EVERY_MS = 2000
# The counts per state cost one narrow read of every printer: shared by every open tab with
# the same filters, and refreshed this often rather than on every live update.
COUNTS_SECONDS = 10


@operator_required
def fleet(request: HttpRequest) -> HttpResponse:
    filters = FleetFilters.from_query(request.GET)
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        page_number = 1
    # The cursor is taken before the data is read: a change made meanwhile is sent again.
    cursor = fleet_cursor_now()
    sites = sites_report()
    page = fleet_page(fleet_briefs(down_site_ids=_down(sites)), filters, page_number)
    cache.set(fleet_counts_key(filters), _counts(page), COUNTS_SECONDS)
    rows = {row["printer"].pk: row for row in printer_rows(sites, page.ids)}
    context = {
        "filters": filters,
        "page": page,
        "groups": [
            (heading, [rows[pk] for pk in ids if pk in rows]) for heading, ids in page.groups
        ],
        "sites_down": [report for report in sites if report.shown_down],
        "cursor": cursor,
        "bulk": True,  # cards carry a box to tick for the bulk form
        "live_every": LIVE_EVERY_MS,
        "state_links": [
            (state, n, "?" + urlencode(filters.as_query(state=state)))
            for state, n in page.counts.items()
        ],
        "attention_link": "?" + urlencode(filters.as_query(state="attention")),
        "all_link": "?" + urlencode(filters.as_query(state="")),
        "previous_link": _page_link(filters, page.page - 1) if page.page > 1 else "",
        "next_link": _page_link(filters, page.page + 1) if page.page < page.pages else "",
    }
    return render(request, "farm/fleet.html", context)


@operator_required
def fleet_changes(request: HttpRequest) -> HttpResponse:
    """What changed since the client's cursor, for the printers it shows: their cards, the
    counts, and a new cursor; or `full` when the cursor is too old to answer from."""
    changes = fleet_changes_since(request.GET.get("cursor", ""))
    if changes.full:
        return JsonResponse({"cursor": changes.cursor, "full": True})
    shown = _ids(request.GET.get("ids", ""))
    wanted = [pk for pk in shown if pk in changes.printer_ids]
    cards: dict[str, str] = {}
    if wanted:
        for row in printer_rows(sites_report(), wanted):
            cards[str(row["printer"].pk)] = render_to_string(
                "farm/_printer_card.html", {"row": row, "bulk": True}, request=request
            )
    filters = FleetFilters.from_query(request.GET)
    counts = cache.get(fleet_counts_key(filters)) if changes.printer_ids else None
    if changes.printer_ids and counts is None:
        page = fleet_page(fleet_briefs(down_site_ids=_down(sites_report())), filters)
        counts = _counts(page)
        cache.set(fleet_counts_key(filters), counts, COUNTS_SECONDS)
    return JsonResponse(
        {
            "cursor": changes.cursor,
            "full": False,
            "changed": len(changes.printer_ids),
            "cards": cards,
            "counts": counts,
        }
    )


def _ids(text: str) -> list[int]:
    # A client shows one page: more ids than a page or two is not ours to answer.
    return [int(part) for part in text.split(",")[: 2 * PAGE_SIZE] if part.isdigit()]


def _down(sites: list[SiteReport]) -> set[int]:
    return {report.site.pk for report in sites if report.shown_down}


def _counts(page: FleetPage) -> dict[str, int]:
    return {**page.counts, "attention": page.attention}


def fleet_counts_key(filters: FleetFilters) -> str:
    digest = hashlib.sha256(urlencode(sorted(filters.as_query(state="").items())).encode())
    return f"fleet-counts:{digest.hexdigest()[:16]}"


def _page_link(filters: FleetFilters, page: int) -> str:
    return "?" + urlencode({**filters.as_query(), "page": str(page)})
