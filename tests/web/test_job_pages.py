"""What a job's page says at the ends of its life: printed and on the bed, or rejected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from farm.models import Job, Site
from farm.services.preparation import job_prepare, job_reject
from farm.services.runs import run_finish, run_start
from farm.services.submission import job_submit
from farm.statuses import JobStatus
from tests.farm.helpers import claim


def test_a_job_printed_and_on_the_bed_reads_printed_with_nothing_to_cancel(
    client: Client, alice: Any, pla: Any, cube_upload: Any, make_printer: Any
) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    run = claim(Job.objects.get(pk=job.pk), make_printer("p1"))
    run_start(run_id=run.pk)
    run_finish(run_id=run.pk)
    assert Job.objects.get(pk=job.pk).status == JobStatus.PRINTING
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "waiting to be taken off the bed" in page
    assert "Cancel job" not in page
    assert ">Printing<" not in page
    assert "waiting to be taken off the bed" in client.get("/jobs/").content.decode()


def test_a_rejected_job_has_no_copies_waiting(
    client: Client, alice: Any, pla: Any, cube_upload: Any
) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_reject(job_id=job.pk, reason="not a printable part")
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Rejected" in page
    assert "waiting" not in page


def test_every_help_text_a_field_points_to_is_there(client: Client, alice: Any, pla: Any) -> None:
    client.force_login(alice)
    page = client.get("/jobs/new/").content.decode()
    described = re.findall(r'aria-describedby="([^"]+)"', page)
    assert described
    for ids in described:
        for target in ids.split():
            assert f'id="{target}"' in page, target


def test_an_employee_on_an_operator_page_gets_the_farms_own_403(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.get("/operator/fleet/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "farm/farm.css" in page and "Not allowed" in page and "Farm manager" in page


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_primary_buttons_have_aa_contrast_and_disabled_ones_look_disabled() -> None:
    css = (Path(__file__).resolve().parents[2] / "farm/static/farm/farm.css").read_text()
    rule = re.search(r"button\.primary \{([^}]*)\}", css).group(1)  # type: ignore[union-attr]
    background = re.search(r"background: (#[0-9a-f]{6})", rule).group(1)  # type: ignore[union-attr]
    assert "color: #fff" in rule
    assert (1.05) / (_luminance(background) + 0.05) >= 4.5
    assert re.search(r"button\.primary:disabled[^{]*\{[^}]*background", css)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("staffed_from_hour", 30),
        ("staffed_until_hour", 25),
        ("staffed_weekdays", "xyz"),
        ("staffed_weekdays", "0115"),
        ("staffed_weekdays", ""),
    ],
)
def test_the_site_form_refuses_hours_and_days_that_do_not_exist(
    client: Client, admin_user: Any, site: Site, field: str, value: Any
) -> None:
    client.force_login(admin_user)
    data = {
        "name": site.name,
        "slug": site.slug,
        "location": "",
        "timezone": site.timezone,
        "staffed_from_hour": 22,
        "staffed_until_hour": 6,  # a night shift is fine
        "staffed_weekdays": "01234",
        "max_heating": 0,
        "machine_rate_per_hour": "0",
    }
    url = f"/admin/farm/site/{site.pk}/change/"
    assert client.post(url, data).status_code == 302
    response = client.post(url, data | {field: value})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    site.refresh_from_db()
    assert (site.staffed_from_hour, site.staffed_weekdays) == (22, "01234")
