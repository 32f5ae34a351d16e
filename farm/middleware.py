"""Request bodies are bounded before anything reads them.

Django reads a body when a view, the CSRF check or a form first touches `request.POST`;
before that, this middleware (first in MIDDLEWARE) looks at the declared length and refuses
a body over its limit without reading a byte of it, so the web's memory stays flat whatever
is sent: 413 for a declared length over the limit, 411 for a body without a declared length
(chunked: Django would read it as empty anyway), 400 for a length that is not a number.

The limit is DATA_UPLOAD_MAX_MEMORY_SIZE for every form, and for the upload forms
(UPLOAD_VIEWS) the file limit (FARM_MAX_UPLOAD_MB) plus FARM_UPLOAD_FORM_MARGIN_MB: a file a
little over its limit still reaches the streaming handler (farm.uploads), which stops
storing it at the limit and answers with the form and its message.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

from farm.services.submission import upload_limit_bytes

# The views that take a file: the submission form, the admin's job pages, the REST API's
# job submission and the OctoPrint-compatible upload (farm/api/).
UPLOAD_VIEWS = frozenset(
    {
        "job-new",
        "admin:farm_job_add",
        "admin:farm_job_change",
        "api:job-list",
        "octoprint:files-local",
    }
)


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may declare."""
    try:
        view = resolve(path).view_name
    except Resolver404:
        view = ""
    if view in UPLOAD_VIEWS:
        return upload_limit_bytes() + settings.FARM_UPLOAD_FORM_MARGIN_MB * 1024 * 1024
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _refusal(status: int, title: str, message: str) -> HttpResponse:
    # Rendered without the request: nothing of it has been read, not even the session.
    page = render_to_string("refused.html", {"status": status, "title": title, "message": message})
    return HttpResponse(page, status=status)


def body_refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request whose body may not be read, or None when it may."""
    meta = request.META
    declared = str(meta.get("CONTENT_LENGTH") or "").strip()
    chunked = str(meta.get("HTTP_TRANSFER_ENCODING", "")).strip().lower() not in ("", "identity")
    if chunked:
        return _refusal(
            411, "Length required", "Send the request with a Content-Length, not chunked."
        )
    if not declared:
        return None
    try:
        length = int(declared)
    except ValueError:
        return _refusal(400, "Bad request", "The Content-Length is not a number.")
    if length < 0:
        return _refusal(400, "Bad request", "The Content-Length is negative.")
    # Cheap first: most bodies are far below every limit, so resolve the URL only when needed.
    if length <= int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE):
        return None
    limit = body_limit(request.path_info)
    if length > limit:
        return _refusal(
            413,
            "Too large",
            f"The request is larger than the {limit / (1024 * 1024):.0f} MB this page accepts; "
            f"files may be at most {settings.FARM_MAX_UPLOAD_MB} MB.",
        )
    return None


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = body_refusal(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)
