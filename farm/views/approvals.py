"""An operator approves or refuses a job that a site's approval rule holds."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from farm.services.approvals import job_approve, job_refuse
from farm.views.employee import job_action
from farm.views.operator import operator_required


@operator_required
@require_POST
def job_approve_view(request: HttpRequest, job_id: int) -> HttpResponse:
    note = request.POST.get("note", "")
    return job_action(request, job_id, job_approve, "approved: it will be planned", note=note)


@operator_required
@require_POST
def job_refuse_view(request: HttpRequest, job_id: int) -> HttpResponse:
    note = request.POST.get("note", "")
    return job_action(request, job_id, job_refuse, "refused and cancelled", note=note)
