"""The REST API: thin views over the services the web pages call, with the web's role rules.

Employees see and act on their own jobs only ("not yours" reads as "no such job", as on the
web); operators see every job, the printers and the queue.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from farm.api.auth import IsOperator
from farm.api.questions import AnswerSerializer, QuestionSerializer
from farm.api.serializers import (
    JobDetailSerializer,
    JobSerializer,
    JobSubmitSerializer,
    MaterialSerializer,
    NewTokenSerializer,
    PrinterSerializer,
    SiteSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)
from farm.local_time import user_zone_name
from farm.models import Job, Material, Printer, Site
from farm.services.api_tokens import api_token_create, api_token_revoke, api_tokens_of
from farm.services.jobs import job_cancel, job_confirm, job_visible_to
from farm.services.pricing import job_price, site_rates
from farm.services.questions import job_answer
from farm.services.reuse import job_print_again
from farm.services.sites import site_report
from farm.services.submission import job_submit, upload_too_large_message
from farm.statuses import JobStatus
from farm.views.employee import job_rows
from farm.views.operator import printer_rows


def api_user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # IsAuthenticated ran first; this is for the types
        raise Http404
    return user


def service_errors(exc: DjangoValidationError) -> ValidationError:
    """A service's refusal as the API's 400, field by field where the service said so."""
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


def with_progress(jobs: list[Job]) -> list[Job]:
    """The jobs with their copies, progress and cost, counted as the web's job pages count
    them (from their runs, prefetched, and the printers' live progress)."""
    rates = site_rates()  # once for the page, not once per job
    for row in job_rows(jobs):
        row["job"].copies = row["counts"]
        row["job"].progress = row["progress"]
        row["job"].price = job_price(row["job"], rates)
    return jobs


def job_detail_data(job: Job) -> dict[str, Any]:
    """A job with its copies, progress and runs, as its web page shows them."""
    return dict(JobDetailSerializer(with_progress([job])[0]).data)


def job_page(view: Any) -> Response:
    """A page of a view's jobs, each with its progress."""
    page = view.paginate_queryset(view.get_queryset().prefetch_related("runs"))
    assert page is not None  # pagination is configured (REST_FRAMEWORK)
    return view.get_paginated_response(JobSerializer(with_progress(list(page)), many=True).data)


JOB_STATUS_FILTER = OpenApiParameter(
    "status", str, enum=JobStatus.values(), description="Only jobs in this status."
)


@extend_schema(tags=["jobs"])
class JobViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Job]):
    """Jobs: an employee's own, every job for operators."""

    serializer_class = JobSerializer
    parser_classes = [MultiPartParser, FormParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticates: the token's owner is known
        # A due date without an offset is read in its owner's zone, as on the form
        # (farm.local_time; the web's middleware runs before a token is read).
        timezone.activate(user_zone_name(request.user))

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        timezone.deactivate()
        return super().finalize_response(request, response, *args, **kwargs)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        # The browsable API's form for a POST to the list is the submission's fields.
        submitting = self.request.method == "POST" and self.action in ("list", "create")
        return JobSubmitSerializer if submitting else JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        jobs = job_visible_to(self.request.user).select_related("material", "owner")
        wanted = self.request.query_params.get("status", "")
        if wanted in JobStatus.values():
            jobs = jobs.filter(status=wanted)
        return jobs.order_by("-submitted_at", "-pk")

    def get_object(self) -> Job:
        try:
            job = (
                self.get_queryset()
                .prefetch_related("runs__printer__site")
                .get(pk=int(self.kwargs["pk"]))
            )
        except (Job.DoesNotExist, ValueError):
            raise Http404("No such job.") from None
        return job

    @extend_schema(parameters=[JOB_STATUS_FILTER])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return job_page(self)

    @extend_schema(responses={200: JobDetailSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(job_detail_data(self.get_object()))

    @extend_schema(
        request=JobSubmitSerializer,
        responses={201: JobDetailSerializer, 400: OpenApiResponse(description="What is wrong.")},
    )
    def create(self, request: Request) -> Response:
        """Submit a mesh or a G-code, with the same checks as the submission form."""
        data = request.data  # parsed here: the size-limited upload handler has run
        if getattr(request._request, "upload_too_large", False):
            raise ValidationError({"file": [upload_too_large_message()]})
        submitted = JobSubmitSerializer(data=data)
        submitted.is_valid(raise_exception=True)
        fields = submitted.validated_data
        try:
            job = job_submit(owner=api_user(request), upload=fields.pop("file"), **fields)
        except DjangoValidationError as exc:
            raise service_errors(exc) from None
        return Response(job_detail_data(job), status=status.HTTP_201_CREATED)

    def _act(self, request: Request, service: Any, **fields: Any) -> Response:
        job = self.get_object()
        try:
            service(job=job, actor=api_user(request), **fields)
        except DjangoPermissionDenied:
            raise Http404("No such job.") from None
        except DjangoValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(job_detail_data(self.get_object()))

    @extend_schema(
        request=None,
        responses={200: JobDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        """Accept the quoted completion time: the job joins the queue (409 if not quoted)."""
        return self._act(request, job_confirm)

    @extend_schema(responses={200: QuestionSerializer(many=True), 404: ErrorSerializer})
    @action(detail=True, methods=["get"])
    def questions(self, request: Request, pk: str) -> Response:
        """What the farm asks about the part (scale it? print the repair?), open ones with an
        empty answer: a quoted job with an open question cannot be confirmed."""
        job = self.get_object()
        questions = job.questions.select_related("answered_by")
        return Response(QuestionSerializer(questions, many=True).data)

    @extend_schema(
        request=AnswerSerializer,
        responses={
            200: JobDetailSerializer,
            400: OpenApiResponse(description="What is wrong."),
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser, MultiPartParser])
    def answer(self, request: Request, pk: str) -> Response:
        """Answer one of the job's questions: keeping a part's scale prepares it again
        (status submitted), refusing a repair cancels it (409 if answered already)."""
        self.get_object()  # someone else's job is not found, whatever the body says
        given = AnswerSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return self._act(
            request,
            job_answer,
            question_id=given.validated_data["question"],
            answer=given.validated_data["answer"],
        )

    @extend_schema(
        request=None,
        responses={
            201: JobDetailSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def again(self, request: Request, pk: str) -> Response:
        """Print one's own job again: a new job of the same file and settings, prepared and
        then waiting, quoted, for POST .../confirm/ (403 for someone else's job an operator
        sees; 409 if its file is no longer kept)."""
        job = self.get_object()
        try:
            again = job_print_again(job=job, actor=api_user(request))
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(job_detail_data(again), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: JobDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel the job; copies on printers are stopped (409 if it is closed already)."""
        return self._act(request, job_cancel)


@extend_schema(tags=["queue"])
class QueueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Job]):
    """The open jobs in the order the dashboard lists them (operators)."""

    serializer_class = JobSerializer
    permission_classes = [IsOperator]

    def get_queryset(self) -> QuerySet[Job]:
        open_jobs = (JobStatus.SUBMITTED, JobStatus.QUOTED, JobStatus.QUEUED, JobStatus.PRINTING)
        return (
            Job.objects.filter(status__in=open_jobs)
            .select_related("owner", "material")
            .order_by("-priority", "planned_start", "submitted_at", "pk")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return job_page(self)


def printers_with_state(printers: list[Printer]) -> list[Printer]:
    """The printers with what the dashboard shows of them (state, live readings)."""
    rows = {row["printer"].pk: row for row in printer_rows(printer_ids=[p.pk for p in printers])}
    shown = []
    for printer in printers:
        row = rows[printer.pk]
        row["printer"].shown_state = row["state"]
        row["printer"].live = row["live"] or None
        shown.append(row["printer"])
    return shown


@extend_schema(tags=["printers"])
class PrinterViewSet(viewsets.ReadOnlyModelViewSet[Printer]):
    """Every printer and its live state (operators); never its connection or its secrets."""

    serializer_class = PrinterSerializer
    permission_classes = [IsOperator]

    def get_queryset(self) -> QuerySet[Printer]:
        printers = Printer.objects.select_related("site").order_by("site__name", "name", "pk")
        site = self.request.query_params.get("site", "")
        return printers.filter(site__slug=site) if site else printers

    @extend_schema(parameters=[OpenApiParameter("site", str, description="A site's slug.")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # pagination is configured (REST_FRAMEWORK)
        data = PrinterSerializer(printers_with_state(list(page)), many=True).data
        return self.get_paginated_response(data)

    @extend_schema(responses={200: PrinterSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        printer = self.get_object()
        return Response(PrinterSerializer(printers_with_state([printer])[0]).data)


@extend_schema(tags=["sites"])
class SiteViewSet(viewsets.ReadOnlyModelViewSet[Site]):
    """The farm's sites and whether each is up (anyone signed in: the form offers them)."""

    serializer_class = SiteSerializer
    queryset = Site.objects.order_by("name", "pk")

    def _with_condition(self, site: Site) -> Site:
        report = site_report(site)
        site.condition = report.condition.value  # type: ignore[attr-defined]
        site.condition_text = report.describe()  # type: ignore[attr-defined]
        return site

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        sites = [self._with_condition(site) for site in page]
        return self.get_paginated_response(SiteSerializer(sites, many=True).data)

    @extend_schema(responses={200: SiteSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(SiteSerializer(self._with_condition(self.get_object())).data)


@extend_schema(tags=["materials"])
class MaterialViewSet(viewsets.ReadOnlyModelViewSet[Material]):
    serializer_class = MaterialSerializer
    queryset = Material.objects.order_by("name", "pk")

    @extend_schema(responses={200: MaterialSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["tokens"])
class TokenViewSet(viewsets.GenericViewSet[AuthToken]):
    """The user's own API tokens: one per integration (a slicer, a script), each named and
    revocable (farm.services.api_tokens; the same as the page /me/tokens/)."""

    serializer_class = TokenSerializer
    lookup_field = "token_key"
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(api_tokens_of(api_user(request)))
        assert page is not None
        return self.get_paginated_response(TokenSerializer(page, many=True).data)

    @extend_schema(
        request=TokenCreateSerializer,
        responses={201: NewTokenSerializer, 400: OpenApiResponse(description="What is wrong.")},
    )
    def create(self, request: Request) -> Response:
        """A new token; the answer is the only time it is shown (it is kept hashed)."""
        given = TokenCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        name = given.validated_data["name"].strip()
        name = name or f"API token {timezone.localdate():%Y-%m-%d}"
        try:
            row, key = api_token_create(user=api_user(request), name=name)
        except DjangoValidationError as exc:
            raise service_errors(exc) from None
        data = {**TokenSerializer(row).data, "token": key}
        return Response(NewTokenSerializer(data).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("token_key", str, OpenApiParameter.PATH)],
        responses={204: None, 404: ErrorSerializer},
    )
    def destroy(self, request: Request, token_key: str) -> Response:
        """Revoke a token (every token sharing those first characters, which is one)."""
        if not api_token_revoke(user=api_user(request), token_key=token_key):
            raise Http404("No such token.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(exclude=True)
class NoSuchEndpoint(APIView):
    """Any other path under /api/v1/: the API's own 404, in JSON like all its answers (the
    site's 404 is an HTML page), and only to someone signed in."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound("No such endpoint.")
