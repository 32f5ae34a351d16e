from __future__ import annotations

import json
from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command

from farm.models import Job, Printer, Site


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_builds_a_farm_with_a_user_for_each_role(
    db: Any, settings: Any, tmp_path: Any
) -> None:
    settings.VAR_DIR = tmp_path
    output = run("seed_demo")
    assert Site.objects.count() == 3
    assert Printer.objects.count() == 24
    assert Printer.objects.filter(auto_eject=True).exists()
    assert Printer.objects.filter(auto_eject=False).exists()
    assert set(User.objects.values_list("username", flat=True)) == {
        "admin",
        "operator",
        "alice",
        "bob",
    }
    assert Job.objects.filter(owner__username="alice").count() >= 3
    for line in (tmp_path / "demo-logins.txt").read_text().splitlines():
        assert line.split(" / ")[1] in output  # every password is shown once
    assert "already there" in run("seed_demo", "--if-empty")
    assert Printer.objects.count() == 24


def test_farm_status_reports_jobs_printers_and_the_queue_as_json(
    db: Any, make_printer: Any, alice: Any, pla: Any, cube_upload: Any
) -> None:
    from farm.services.submission import job_submit

    make_printer("p1")
    job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=2)
    summary = json.loads(run("farm_status", "--json"))
    assert summary["jobs_by_status"] == {"submitted": 1}
    assert summary["printers_by_site_and_state"] == {"berlin": {"ready": 1}}
    assert summary["queue_length"] == 1
    assert "latest_completion_estimate" in summary


def test_farm_status_prints_a_readable_summary(db: Any, make_printer: Any) -> None:
    make_printer("p1")
    text = run("farm_status")
    assert "Printers:" in text and "berlin" in text and "ready 1" in text
