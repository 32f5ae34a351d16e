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


def test_run_farm_restarts_a_dead_process_with_a_growing_back_off() -> None:
    from farm.management.commands.run_farm import Restarts

    plan = Restarts(started_at=0.0)
    delays = []
    for now in (1.0, 3.0, 7.0, 15.0, 31.0, 63.0, 95.0):
        delays.append(plan.exited(now))
        plan.started(now + delays[-1])
    assert delays[:6] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert plan.count == 7
    # A process that stayed up a minute before dying starts again after 1 s.
    assert plan.exited(plan.started_at + 61) == 1.0


def test_run_farm_starts_slicing_in_its_own_worker_pool() -> None:
    from farm.management.commands.run_farm import processes

    commands = processes(port=8000, sites=["berlin", "lyon"])
    slicing, worker = commands["slicing"], commands["worker"]
    assert slicing[slicing.index("-Q") + 1] == "slicing"
    assert "--max-memory-per-child" in slicing
    # On one machine the worker serves every site's queue.
    assert worker[worker.index("-Q") + 1] == "default,site.berlin,site.lyon"


def test_run_farm_restarts_its_worker_on_the_queues_of_a_site_added_while_it_runs(
    site: Site,
) -> None:
    import subprocess

    from farm.management.commands.run_farm import Command, Restarts, processes

    commands = processes(port=8000)
    assert "site.berlin" in commands["worker"][commands["worker"].index("-Q") + 1]
    Site.objects.create(name="Lyon", slug="lyon")
    worker = subprocess.Popen(["sleep", "30"])
    children: dict[str, Any] = {"worker": worker}
    plan = Restarts()
    try:
        sites = Command(stderr=StringIO())._follow_sites(["berlin"], commands, children, plan, 5.0)
        assert sites == ["berlin", "lyon"]
        assert worker.wait(timeout=10) == -15  # SIGTERM: a warm shutdown for a Celery worker
        assert commands["worker"][commands["worker"].index("-Q") + 1] == (
            "default,site.berlin,site.lyon"
        )
        assert plan.due == 5.0  # started again at once, not after a crash's back-off
        assert children[f"worker (old {worker.pid})"] is worker  # stopped with the rest
    finally:
        worker.kill()
        worker.wait()


def test_a_site_worker_consumes_its_sites_queue_with_a_bounded_pool_of_threads(
    site: Site, settings: Any
) -> None:
    settings.FARM_SITE_DISPATCH_CONCURRENCY = 24
    out = StringIO()
    call_command("site_worker", "--site", "berlin", "--print", stdout=out)
    command = out.getvalue().split()
    assert command[command.index("-Q") + 1] == "site.berlin"
    assert command[command.index("--pool") + 1] == "threads"
    assert command[command.index("--concurrency") + 1] == "24"


def test_a_site_worker_for_a_site_that_does_not_exist_is_refused(site: Site) -> None:
    import pytest
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"no site 'berlni' \(sites: berlin\)"):
        call_command("site_worker", "--site", "berlni", "--print")
