"""/operator/stats/: the farm's statistics as charts and tables, and each table as CSV."""

from __future__ import annotations

import csv
import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from farm.models import Site
from farm.services.stats import SECTIONS, StatsFilter, Table, stats_filter, stats_tables
from farm.views.operator import operator_required


def _filter(request: HttpRequest) -> StatsFilter:
    return stats_filter(
        start=request.GET.get("start", ""),
        end=request.GET.get("end", ""),
        site=request.GET.get("site", ""),
        sla_days=request.GET.get("sla", ""),
    )


def _query(f: StatsFilter) -> str:
    site = f"&site={f.site.slug}" if f.site else ""
    return f"start={f.start}&end={f.end}&sla={f.sla_days:g}{site}"


def _day(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp())


def chart_data(tables: dict[str, Table]) -> dict[str, Any]:
    """Each chart as uPlot draws it: x values (days as timestamps, or category names) and
    named series. Categories are drawn as bars over their index."""
    t = tables
    days = [_day(r[0]) for r in t["throughput"].rows]
    materials = sorted({r[1] for r in t["filament"].rows})
    grams = {(r[0], r[1]): r[2] for r in t["filament"].rows}
    filament_days = sorted({r[0] for r in t["filament"].rows})
    return {
        "throughput": {
            "x": days,
            "series": {
                "pieces": [r[1] for r in t["throughput"].rows],
                "runs failed": [r[3] for r in t["throughput"].rows],
            },
        },
        "utilisation": {
            "categories": [f"{r[0]} · {r[1]}" for r in t["utilisation"].rows],
            "series": {"utilisation %": [round(r[4] * 100, 1) for r in t["utilisation"].rows]},
        },
        "outcomes": {
            "categories": [r[0] for r in t["outcomes"].rows],
            "series": {"runs": [r[1] for r in t["outcomes"].rows]},
        },
        "failures": {
            "categories": [str(r[0])[:30] for r in t["failures"].rows],
            "series": {"runs": [r[1] for r in t["failures"].rows]},
        },
        "sla": {
            "categories": [r[0] for r in t["sla"].rows],
            "series": {"jobs": [r[1] for r in t["sla"].rows]},
        },
        "estimates": {
            "x": [_day(r[0]) for r in t["estimates"].rows],
            "series": {"actual / planned": [r[4] for r in t["estimates"].rows]},
        },
        "filament": {
            "x": [_day(d) for d in filament_days],
            "series": {m: [grams.get((d, m), 0) for d in filament_days] for m in materials},
        },
    }


@operator_required
def stats(request: HttpRequest) -> HttpResponse:
    f = _filter(request)
    tables = stats_tables(f)
    # What the charts draw (farm/static/farm/stats.js reads it from a JSON script element:
    # the CSP allows no inline script).
    charts = chart_data(tables)
    context = {
        "f": f,
        "tables": tables,
        "charts": charts,
        "sites": Site.objects.order_by("name"),
        "query": _query(f),
    }
    return render(request, "farm/stats.html", context)


@operator_required
def stats_csv(request: HttpRequest, section: str) -> HttpResponse:
    compute = SECTIONS.get(section)
    if compute is None:
        raise Http404("No such table.")
    f = _filter(request)
    table = compute(f)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"farm-{section}-{f.start}-{f.end}{'-' + f.site.slug if f.site else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    for row in table.rows:
        # A text cell starting with = + - @ would be run as a formula by a spreadsheet.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c for c in row])
    return response
