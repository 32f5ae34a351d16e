"""An OctoPrint-compatible upload, so slicers can "send to OctoPrint" to the whole farm.

PrusaSlicer (and OrcaSlicer, its fork) first GETs `<host>/api/version` with `X-Api-Key` and
accepts the host when the answer has an `api` field and a `text` starting with "OctoPrint";
then it POSTs `<host>/api/files/local` as multipart: `print` ("true" or "false"), `path` (the
folder, ignored here) and the `file`. Cura's OctoPrint plug-in sends `select` and `print` the
same way. The file becomes a G-code job of the key's owner, through the submission service
and its checks. "Upload and print" queues it at once; "Upload" keeps it waiting, quoted,
until its owner confirms it on the job's page, as OctoPrint would only store the file.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from farm.api.auth import ApiKeyAuthentication, FarmTokenAuthentication
from farm.api.views import api_user, service_errors
from farm.models import Material, Printer
from farm.services.submission import job_submit, upload_too_large_message
from slicing.intake import GCODE_SUFFIXES

# What OctoPrint 1.11 answers; PrusaSlicer checks only `api` and that `text` starts "OctoPrint".
VERSION = {"api": "0.1", "server": "1.11.0", "text": "OctoPrint 1.11.0 (print farm)"}
# The G-code's own word on its filament: PrusaSlicer and OrcaSlicer write their settings as
# comments at the end of the file ("; filament_type = PETG").
_FILAMENT = re.compile(rb"^;\s*filament_type\s*=\s*([^\r\n]+)", re.M)
TAIL_BYTES = 256 * 1024


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def filament_named(stream: BinaryIO, size: int) -> str:
    """The filament type a slicer wrote into the G-code ("PLA"), or "" if it wrote none."""
    found: list[bytes] = []
    for offset in (0, max(0, size - TAIL_BYTES)):
        stream.seek(offset)
        found += _FILAMENT.findall(stream.read(TAIL_BYTES))
    stream.seek(0)
    # A multi-extruder file lists one per extruder ("PLA;PLA"): the first is the one used.
    return found[-1].decode("utf-8", "replace").split(";")[0].strip() if found else ""


def material_for(upload: UploadedFile) -> Material | None:
    """The farm's material of the G-code's filament, else what most printers have loaded (the
    form's default), else the first material."""
    named = filament_named(cast(BinaryIO, upload), upload.size or 0)
    if named:
        match = Material.objects.filter(name__iexact=named).first()
        if match is not None:
            return match
    loaded = Printer.objects.filter(enabled=True).exclude(material=None)
    common = loaded.values("material").annotate(n=Count("id")).order_by("-n").first()
    if common:
        return Material.objects.get(pk=common["material"])
    return Material.objects.order_by("name").first()


class OctoPrintView(APIView):
    authentication_classes = [ApiKeyAuthentication, FarmTokenAuthentication]


@extend_schema(exclude=True)
class VersionView(OctoPrintView):
    def get(self, request: Request) -> Response:
        return Response(VERSION)


@extend_schema(exclude=True)
class FilesLocalView(OctoPrintView):
    parser_classes = [MultiPartParser]

    def post(self, request: Request) -> Response:
        data = request.data  # parsed here: the size-limited upload handler has run
        if getattr(request._request, "upload_too_large", False):
            raise ValidationError({"file": [upload_too_large_message()]})
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["No file part in the request."]})
        if not (upload.name or "").lower().endswith(tuple(f".{s}" for s in GCODE_SUFFIXES)):
            # A slicer sends G-code; meshes go through the web form or the REST API.
            raise ValidationError({"file": ["Send a G-code file (.gcode)."]})
        material = material_for(upload)
        if material is None:
            raise ValidationError({"file": ["The farm has no materials yet."]})
        start = truthy(data.get("print", "false"))
        try:
            job = job_submit(
                owner=api_user(request),
                upload=upload,
                material=material,
                quantity=1,
                notes="Sent from a slicer (OctoPrint upload).",
                confirm_required=not start,
            )
        except DjangoValidationError as exc:
            raise service_errors(exc) from None
        page = request.build_absolute_uri(reverse("job-detail", kwargs={"job_id": job.pk}))
        resource = request.build_absolute_uri(reverse("api:job-detail", kwargs={"pk": job.pk}))
        body = {
            "files": {
                "local": {
                    "name": job.name,
                    "display": job.name,
                    "path": job.name,
                    "origin": "local",
                    "refs": {"resource": resource, "download": page},
                }
            },
            "done": True,
            "effectiveSelect": truthy(data.get("select", "false")) or start,
            "effectivePrint": start,
        }
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": resource})
