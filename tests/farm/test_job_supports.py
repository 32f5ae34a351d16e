"""A job's supports: chosen on the form (left to the farm by default), they reach the slicer
and the quote says whether supports were added."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trimesh
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from farm.models import Job
from farm.models.job import Supports
from farm.services.preparation import job_prepare, profile_for
from farm.services.submission import job_submit
from slicing.supports import gcode_has_supports


def ball_upload() -> SimpleUploadedFile:
    """A 20 mm ball: it overhangs at its foot however it is turned."""
    return SimpleUploadedFile(
        "ball.stl", trimesh.creation.icosphere(radius=10.0).export(None, "stl")
    )


def post(client: Client, pla: Any, upload: Any, **fields: Any) -> Job:
    data = {"material": pla.pk, "quantity": 1, "priority": 0, "file": upload, **fields}
    assert client.post("/jobs/new/", data).status_code == 302
    return Job.objects.latest("pk")


def test_the_form_offers_supports_and_leaves_them_to_the_farm_unless_asked(
    client: Client, alice: Any, pla: Any, cube_upload: Any
) -> None:
    client.force_login(alice)
    form = client.get("/jobs/new/").content.decode()
    assert 'name="supports"' in form and "Standing on the bed only" in form
    assert post(client, pla, cube_upload()).supports == Supports.AUTO
    assert post(client, pla, cube_upload(), supports="bed").supports == Supports.BED


def test_the_jobs_choice_reaches_the_print_profile(alice: Any, pla: Any, cube_upload: Any) -> None:
    job = job_submit(
        owner=alice, upload=cube_upload(), material=pla, quantity=1, supports=Supports.OFF
    )
    profile = profile_for(job, nozzle_mm=0.4, build_mm=(250.0, 210.0, 220.0))
    assert profile.supports == "off"


def test_a_ball_left_to_the_farm_is_sliced_with_supports_and_the_quote_says_so(
    alice: Any, pla: Any, settings: Any
) -> None:
    settings.SLICING_ENGINE = "builtin"
    job = job_submit(owner=alice, upload=ball_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert gcode_has_supports(Path(job.gcode.path))
    events = " ".join(e.message for e in job.events.all())
    assert "supports added under overhangs steeper than 55°" in events


def test_a_ball_whose_owner_wants_none_is_sliced_without(
    alice: Any, pla: Any, settings: Any
) -> None:
    settings.SLICING_ENGINE = "builtin"
    job = job_submit(
        owner=alice, upload=ball_upload(), material=pla, quantity=1, supports=Supports.OFF
    )
    job_prepare(job_id=job.pk)
    job.refresh_from_db()
    assert job.gcode and not gcode_has_supports(Path(job.gcode.path))
