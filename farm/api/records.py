"""The API's read-only records: filament spools and stock, the farm's statistics (the web's
Stats page, per period) and the current plan's runs. Same services and role rules as the web
pages: spools and statistics are operators' pages; the plan shows an employee the runs of
their own jobs only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from farm.api.auth import IsOperator
from farm.api.views import ErrorSerializer
from farm.models import Spool
from farm.services.plan_runs import plan_visible_to, planned_runs
from farm.services.spools import stock_levels
from farm.services.stats import SECTIONS, stats_filter


class SpoolSerializer(serializers.ModelSerializer[Spool]):
    material = serializers.CharField(source="material.name", read_only=True)
    printer = serializers.CharField(
        source="printer.name", read_only=True, allow_null=True, help_text="Loaded on it."
    )

    class Meta:
        model = Spool
        fields = [
            "id",
            "material",
            "colour",
            "vendor",
            "initial_g",
            "remaining_g",
            "location",
            "printer",
            "archived",
            "updated_at",
        ]
        read_only_fields = fields


class StockSerializer(serializers.Serializer[Any]):
    """farm.services.spools.Stock: grams on the shelf and on printers per material and colour."""

    material = serializers.CharField()
    colour = serializers.CharField(help_text="Empty: a threshold over all its colours.")
    grams = serializers.FloatField()
    spools = serializers.IntegerField()
    threshold = serializers.FloatField(allow_null=True)
    low = serializers.BooleanField()


@extend_schema(tags=["spools"])
class SpoolViewSet(viewsets.ReadOnlyModelViewSet[Spool]):
    """The filament spools, as the Filament page lists them (operators)."""

    serializer_class = SpoolSerializer
    permission_classes = [IsOperator]

    def get_queryset(self) -> QuerySet[Spool]:
        wanted = self.request.query_params
        spools = Spool.objects.select_related("material", "printer").filter(
            archived=wanted.get("archived", "") in ("1", "true")
        )
        material = wanted.get("material", "").strip()
        if material:
            spools = spools.filter(material__name__iexact=material)
        return spools.order_by("material__name", "colour", "remaining_g", "pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("archived", bool, description="Archived spools instead."),
            OpenApiParameter("material", str, description="Only this material (its name)."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: SpoolSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["spools"])
class StockView(APIView):
    """Stock per material and colour against its low-stock threshold, lowest first."""

    permission_classes = [IsOperator]

    @extend_schema(responses={200: StockSerializer(many=True)})
    def get(self, request: Request) -> Response:
        rows = [{**asdict(s), "low": s.low} for s in stock_levels()]
        return Response(StockSerializer(rows, many=True).data)


class TableSerializer(serializers.Serializer[Any]):
    """One table of the Stats page (farm.services.stats.Table)."""

    title = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()),
        help_text="One list per row, in the order of `columns`.",
    )
    note = serializers.CharField(allow_blank=True)


class ReportSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    site = serializers.CharField(allow_null=True, help_text="A site's slug; null: every site.")
    sla_days = serializers.FloatField()
    tables = serializers.DictField(
        child=TableSerializer(),
        help_text="throughput, utilisation, outcomes, failures, sla, estimates, filament.",
    )


REPORT_PARAMETERS = [
    OpenApiParameter("start", str, description="First day (YYYY-MM-DD); default 29 days ago."),
    OpenApiParameter("end", str, description="Last day, inclusive (YYYY-MM-DD); default today."),
    OpenApiParameter("site", str, description="One site's slug (days are then its own)."),
    OpenApiParameter("sla", str, description="Days within which a job counts as on time (5)."),
    OpenApiParameter(
        "section", str, enum=sorted(SECTIONS), description="Only this table (default: all)."
    ),
]


@extend_schema(tags=["reports"])
class ReportView(APIView):
    """The farm's statistics for a period, the tables the Stats page shows (operators).
    Bad or missing dates read as the last 30 days, as on the page; a year at most."""

    permission_classes = [IsOperator]

    @extend_schema(parameters=REPORT_PARAMETERS, responses={200: ReportSerializer})
    def get(self, request: Request) -> Response:
        given = request.query_params
        f = stats_filter(
            start=given.get("start", ""),
            end=given.get("end", ""),
            site=given.get("site", ""),
            sla_days=given.get("sla", ""),
        )
        wanted = given.get("section", "")
        sections = {wanted: SECTIONS[wanted]} if wanted in SECTIONS else SECTIONS
        report = {
            "start": f.start,
            "end": f.end,
            "site": f.site.slug if f.site else None,
            "sla_days": f.sla_days,
            "tables": {name: asdict(compute(f)) for name, compute in sections.items()},
        }
        return Response(ReportSerializer(report).data)


class PlannedRunSerializer(serializers.Serializer[Any]):
    """farm.services.plan_runs.PlannedRun."""

    job = serializers.IntegerField()
    job_name = serializers.CharField()
    printer = serializers.IntegerField()
    printer_name = serializers.CharField()
    site = serializers.CharField(help_text="The printer's site's slug.")
    copies = serializers.IntegerField()
    planned_start = serializers.DateTimeField()
    planned_end = serializers.DateTimeField()
    material_change = serializers.BooleanField(help_text="Filament is swapped before it starts.")


@extend_schema(tags=["plan"])
class PlanViewSet(viewsets.GenericViewSet[Any]):
    """The current plan's runs not started yet, soonest first: every run for operators, the
    runs of one's own jobs for anyone else."""

    serializer_class = PlannedRunSerializer

    @extend_schema(parameters=[OpenApiParameter("job", int, description="Only this job's runs.")])
    def list(self, request: Request) -> Response:
        try:
            job_id = int(request.query_params["job"]) if "job" in request.query_params else None
        except ValueError:
            job_id = -1  # no job has it: an empty list, as for someone else's job
        page = self.paginate_queryset(plan_visible_to(request.user, job_id=job_id))
        assert page is not None  # pagination is configured (REST_FRAMEWORK)
        return self.get_paginated_response(PlannedRunSerializer(planned_runs(page), many=True).data)
