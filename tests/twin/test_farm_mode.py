"""The twin driving the farm's own services on a simulated clock (farm.management.twin_farm)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.utils import timezone

from farm.management.twin_farm import simulate_farm
from farm.models import Job, PrintRun, PromiseChange
from farm.statuses import RunStatus
from farm.twin.scenario import from_dict


def farm(**extra: Any) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "name": "farm mode",
        "days": 0.5,
        "seed": 3,
        "printers": {"generate": 6, "seed": 3},
        "background": {"jobs_per_day": 24, "seed": 4},
        "replan_hours": 1,
    }
    scenario.update(extra)
    return scenario


@pytest.mark.django_db
def test_the_farm_prints_its_jobs_through_its_own_services_on_the_simulated_clock() -> None:
    report = simulate_farm(from_dict(farm()))
    assert report["runs"] > 0 and report["jobs_done"] > 0
    assert report["passes"] > 13 + 7  # a pass at each change (see the pass window below)
    # What the services wrote, on the simulated clock (the scenario starts 2026-11-23).
    first = PrintRun.objects.order_by("created_at").first()
    assert first is not None and first.created_at.date().isoformat() == "2026-11-23"
    assert PrintRun.objects.filter(status=RunStatus.DONE).exists()
    # Every job the passes planned was promised by the farm's rule, and none moved: nothing
    # in this farm failed.
    assert (
        PromiseChange.objects.filter(reason="first promise").count()
        == Job.objects.exclude(promised_end=None).count()
    )
    assert report["promises"]["moved"] == 0
    assert timezone.now().year >= 2026 and timezone.now().date().isoformat() != "2026-11-23"


@pytest.mark.django_db
def test_a_failed_run_moves_promises_only_with_its_reason() -> None:
    report = simulate_farm(from_dict(farm(failures={"run_failure_rate": 0.5})))
    assert report["failed_runs"] > 0
    reasons = set(report["promises"]["moves_by_reason"])
    assert report["promises"]["moved"] > 0 and reasons == {"run failed"}


@pytest.mark.django_db
def test_with_a_pass_window_the_changes_of_the_farm_share_their_passes() -> None:
    report = simulate_farm(from_dict(farm(farm_pass_minutes=120)))
    # The periodic passes (one an hour: 13 in half a day) and at most one asked for every
    # two hours; without the window this farm runs a pass at each of its changes (above).
    assert report["passes"] <= 13 + 7
    assert report["runs"] > 0 and report["jobs_done"] > 0
    assert report["promises"]["lead_hours_median"] > 0


@pytest.mark.django_db
def test_a_site_with_a_heat_up_limit_starts_runs_through_the_farms_passes() -> None:
    # Its plan snaps starts to a grid of heat_seconds / max_heating (100 s here), so a pass
    # on the hour finds the site's first start 1.8 s away: with a second's tolerance the
    # Monday order's farm started no run in 1.5 days (`scheduling.is_due_now`).
    heated = farm(sites={"*": {"max_heating": 3, "heat_seconds": 300}}, farm_pass_minutes=60)
    report = simulate_farm(from_dict(heated))
    assert report["runs"] > 0 and report["jobs_done"] > 0
    # A pass starts every run due before the next pass (an hour here), each printing from
    # its planned start (its dispatch held until then), so a site's starts stay a heat-up
    # step (100 s) apart however many a pass started.
    runs = PrintRun.objects.exclude(started_at=None).order_by("started_at")
    by_site: dict[int, list[Any]] = {}
    for run in runs.select_related("printer"):
        assert run.started_at == run.planned_start
        by_site.setdefault(run.printer.site_id, []).append(run.started_at)
    for starts in by_site.values():
        assert all((b - a).total_seconds() >= 100 - 1 for a, b in itertools.pairwise(starts))
