"""Print a past job again (POST /jobs/<id>/again/): a new job of the same file and settings,
quoted and waiting for its owner's confirmation like any submission."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from farm.models import Job
from farm.roles import signed_in_user
from farm.services.jobs import job_visible_to
from farm.services.reuse import job_print_again


@login_required
@require_POST
def job_again_view(request: HttpRequest, job_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        job = job_visible_to(user).select_related("material", "site", "needed_at").get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None  # not yours reads as no such job
    try:
        again = job_print_again(job=job, actor=user)
    except PermissionDenied:
        raise  # an operator looking at someone else's job: it is theirs to print again
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("job-detail", job_id=job.pk)
    messages.success(
        request,
        f"Job #{again.pk} prints #{job.pk} again: it is being prepared, then waits for you "
        "to confirm its quote.",
    )
    return redirect("job-detail", job_id=again.pk)
