"""The floor's pages at 390 px wide (a phone) have no horizontal scroll: each page, as the
real views render it, is laid out by headless Chromium in a 390 px frame, which reports the
page's scroll width. Tables may scroll inside their own box; the page itself may not."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from farm.models import Job, Material, Printer
from farm.services.observation import printers_live_record
from farm.services.preparation import job_prepare
from farm.services.runs import run_start
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from printers.drivers.base import DeviceStatus
from printers.states import DeviceState
from tests.farm.helpers import claim

STATIC = Path(__file__).resolve().parents[2] / "farm" / "static"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 390

FRAME = """<!doctype html><html><head><title>-</title></head><body style="margin:0">
<iframe id="f" src="page.html" width="{width}" height="900" style="border:0"></iframe>
<script>
document.getElementById("f").addEventListener("load", function () {{
  var d = document.getElementById("f").contentDocument.documentElement;
  document.title = "scroll=" + d.scrollWidth + " client=" + d.clientWidth;
}});
</script></body></html>"""


def page_widths(html: str, folder: Path) -> tuple[int, int]:
    """(scroll width, client width) of the page laid out in a WIDTH px frame."""
    (folder / "page.html").write_text(html.replace("/static/", STATIC.as_uri() + "/"))
    (folder / "frame.html").write_text(FRAME.format(width=WIDTH))
    out = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--virtual-time-budget=3000",
            "--dump-dom",
            (folder / "frame.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"<title>scroll=(\d+) client=(\d+)</title>", out.stdout)
    assert found, out.stderr[-2000:]
    return int(found.group(1)), int(found.group(2))


@pytest.fixture
def busy_floor(alice: Any, pla: Material, cube_upload: Any, make_printer: Any) -> Printer:
    """Beds to clear, a filament change, a print under way with temperatures, a queue."""
    petg = Material.objects.create(name="PETG")
    printers = [make_printer(f"berlin-row-A-printer-{i}", row="A", position=i) for i in range(5)]
    Printer.objects.filter(pk__in=[p.pk for p in printers[:2]]).update(bed_clear=False)
    make_printer("a-printer-with-a-rather-long-name", material=petg, colour="black")
    upload = cube_upload("a-part-whose-file-name-goes-on-and-on-for-ever.stl")
    job = job_submit(owner=alice, upload=upload, material=pla, quantity=5, colour="black")
    job_prepare(job_id=job.pk)
    other = job_submit(owner=alice, upload=cube_upload(), material=petg, quantity=2, colour="red")
    job_prepare(job_id=other.pk)
    run = claim(Job.objects.get(pk=job.pk), printers[3])
    run_start(run_id=run.pk)
    schedule_pass()
    status = DeviceStatus(
        DeviceState.PRINTING, progress=0.4, temperatures={"tool0": 215.0, "bed": 60.0}
    )
    printers_live_record([(printers[3].pk, status, timezone.now())])
    return printers[3]


@pytest.mark.integration  # CI installs chromium: there it must run, not skip
@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: chromium)")
@pytest.mark.parametrize(
    "url",
    ["/operator/work/", "/operator/queue/", "printer", "/operator/fleet/", "/operator/"],
)
def test_no_horizontal_scroll_at_390_px(
    url: str, client: Client, operator: Any, busy_floor: Printer, tmp_path: Path
) -> None:
    client.force_login(operator)
    if url == "printer":
        url = f"/operator/printers/{busy_floor.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    scroll, visible = page_widths(response.content.decode(), tmp_path)
    assert scroll <= visible, f"{url}: {scroll} px wide in a {visible} px view"
