"""What an employee sees: the submission form, "My jobs" and each job's page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from farm.forms import JobSubmitForm
from farm.models import Job
from farm.models.job import FileKind
from farm.roles import is_operator, signed_in_user
from farm.services.jobs import copies_summary, job_cancel, job_confirm, job_visible_to
from farm.services.observation import printer_live
from farm.services.pickup import job_pickup_places
from farm.services.pricing import job_price
from farm.services.promises import promise_summary
from farm.services.questions import job_answer
from farm.services.quotas import quota_allowances
from farm.services.submission import job_submit, upload_limit_bytes
from farm.statuses import JOB_OPEN, RUN_ACTIVE, JobStatus
from farm.views.part import job_turntable_file, part_context
from slicing.errors import GcodeRefused
from slicing.preview import gcode_layer_svg
from slicing.profile import DEFAULT_BUILD_MM


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("operator-dashboard" if is_operator(request.user) else "my-jobs")


@login_required
def job_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = JobSubmitForm(
            request.POST,
            request.FILES,
            upload_too_large=getattr(request, "upload_too_large", False),
        )
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = job_submit(
                    owner=signed_in_user(request),
                    upload=data["file"],
                    material=data["material"],
                    quantity=data["quantity"],
                    colour=data["colour"],
                    priority=data["priority"],
                    due=data["due"],
                    notes=data["notes"],
                    site=data["site"],
                    needed_at=data["needed_at"],
                    confirm_required=True,
                    supports=data["supports"],
                )
            except ValidationError as exc:
                by_field = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
                for field, errors in by_field.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(
                    request,
                    f"Job #{job.pk} submitted: the file is being checked. When the farm knows "
                    "when it can be done, confirm it here to join the queue.",
                )
                return redirect("job-detail", job_id=job.pk)
    else:
        form = JobSubmitForm()
    context = {
        "form": form,
        "max_upload_bytes": upload_limit_bytes(),
        "quota_left": quota_allowances(signed_in_user(request)),
    }
    return render(request, "farm/job_new.html", context)


def job_rows(jobs: Any) -> list[dict[str, Any]]:
    """Each job with its copies and the live progress of its runs on printers."""
    jobs = list(jobs)
    active: dict[int, list[Any]] = {}
    printer_ids: list[int] = []
    for job in jobs:
        if job.status in JOB_OPEN:
            runs = [r for r in job.runs.all() if r.status in RUN_ACTIVE]
            active[job.pk] = runs
            printer_ids += [r.printer_id for r in runs]
    live = printer_live(printer_ids)
    rows = []
    for job in jobs:
        counts = copies_summary(job)
        partial = sum(
            (live.get(r.printer_id, {}).get("progress") or 0) * r.copies
            for r in active.get(job.pk, [])
        )
        progress = min(1.0, (counts.printed + partial) / job.quantity)
        rows.append(
            {
                "job": job,
                "counts": counts,
                "progress": round(progress * 100),
                # Every copy printed, some still on a bed: nothing left to print or to cancel.
                "all_printed": job.status == JobStatus.PRINTING and counts.printed >= job.quantity,
            }
        )
    return rows


@login_required
def my_jobs(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.filter(owner=signed_in_user(request)).select_related("material")
    jobs = jobs.prefetch_related("runs")[:200]
    context = {"rows": job_rows(jobs)}
    if request.GET.get("partial"):
        return render(request, "farm/_job_rows.html", context)
    return render(request, "farm/my_jobs.html", context)


def _visible_job(request: HttpRequest, job_id: int) -> Job:
    try:
        return job_visible_to(request.user).select_related("material", "owner").get(pk=job_id)
    except Job.DoesNotExist:
        # The same answer for "no such job" and "not yours": ids are not a way to probe.
        raise Http404("No such job.") from None


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _visible_job(request, job_id)
    row = job_rows([job])[0]
    context = {
        "row": row,
        "job": job,
        "runs": job.runs.select_related("printer").order_by("-created_at"),
        "events": job.events.select_related("actor")[:100],
        "price": job_price(job),
        **part_context(job),
        "promise": promise_summary(job),
        "pickup": job_pickup_places(job) if job.is_done else [],
        "may_print_again": job.owner_id == request.user.pk and bool(job.file),
    }
    if request.GET.get("partial"):
        return render(request, "farm/_job_live.html", context)
    return render(request, "farm/job_detail.html", context)


@login_required
def job_thumbnail(request: HttpRequest, job_id: int) -> FileResponse:
    job = _visible_job(request, job_id)
    if not job.thumbnail:
        raise Http404("No picture of this part yet.")
    return FileResponse(job.thumbnail.open("rb"), content_type="image/png")


@login_required
@cache_control(private=True, max_age=300)  # a job's G-code does not change once sliced
def job_layer_svg(request: HttpRequest, job_id: int, layer: int) -> HttpResponse:
    """One layer of the job's G-code, toolpaths coloured by feature (for its owner and the
    operators: the owner checks it before confirming). The first layer asked of a file
    indexes it (slicing.preview): the others take milliseconds."""
    job = _visible_job(request, job_id)
    path = (
        job.gcode.path if job.gcode else (job.file.path if job.file_kind == FileKind.GCODE else "")
    )
    if not path:
        raise Http404("This job has no G-code yet.")
    bed = (job.size_x_mm or DEFAULT_BUILD_MM[0], job.size_y_mm or DEFAULT_BUILD_MM[1])
    printer = job.runs.select_related("printer").first()
    if printer is not None:
        bed = (printer.printer.build_x_mm, printer.printer.build_y_mm)
    if job.layers and layer >= job.layers:
        raise Http404("No such layer.")  # before reading the file: the count is known
    try:
        svg = gcode_layer_svg(Path(path), layer, bed_mm=bed)
    except (IndexError, GcodeRefused):
        raise Http404("No such layer.") from None
    return HttpResponse(svg, content_type="image/svg+xml")


def job_action(
    request: HttpRequest, job_id: int, service: Callable[..., None], done: str, **fields: Any
) -> HttpResponse:
    """Run a service on a job the user may see (with `fields`, e.g. a note); "not yours"
    reads as "no such job"."""
    job = _visible_job(request, job_id)
    try:
        service(job=job, actor=signed_in_user(request), **fields)
    except PermissionDenied:
        raise Http404("No such job.") from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Job #{job.pk} {done}.")
    return redirect("job-detail", job_id=job.pk)


@login_required
@require_POST
def job_confirm_view(request: HttpRequest, job_id: int) -> HttpResponse:
    return job_action(request, job_id, job_confirm, "confirmed: it is in the queue")


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    return job_action(request, job_id, job_cancel, "cancelled")


@login_required
@require_POST
def job_answer_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """An answer to one of the questions about the job's part (farm.services.questions)."""
    raw = request.POST.get("question", "")
    question_id = int(raw) if raw.isdigit() else 0  # 0: the service's "no such question"
    answer = request.POST.get("answer", "")
    return job_action(
        request, job_id, job_answer, "answered", question_id=question_id, answer=answer
    )


@login_required
@cache_control(private=True, max_age=300)  # a slice's pictures do not change
def job_turntable(request: HttpRequest, job_id: int) -> FileResponse:
    """The oriented, packed plate turning, as frames side by side (slicing.turntable)."""
    path = job_turntable_file(_visible_job(request, job_id))
    if path is None:
        raise Http404("No turntable of this part yet.")
    return FileResponse(path.open("rb"), content_type="image/png")
