"""The admin's actions say what they did (as Django's own delete does), beside the errors of
what they could not do."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages
from django.test import Client

from farm.models import Job, Printer
from farm.services.submission import job_submit


def said(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_confirming_beds_cleared_says_how_many(
    client: Client, admin_user: Any, make_printer: Any
) -> None:
    full = [make_printer(f"p{i}", bed_clear=False) for i in range(3)]
    client.force_login(admin_user)
    response = client.post(
        "/admin/farm/printer/",
        {"action": "confirm_bed_cleared", "_selected_action": [p.pk for p in full]},
    )
    assert response.status_code == 302
    assert ("success", "3 beds confirmed cleared.") in said(response)
    assert Printer.objects.filter(bed_clear=True).count() == 3


def test_cancelling_jobs_says_how_many(
    client: Client, admin_user: Any, alice: Any, pla: Any, cube_upload: Any
) -> None:
    jobs = [
        job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1, colour="")
        for _ in range(2)
    ]
    client.force_login(admin_user)
    response = client.post(
        "/admin/farm/job/", {"action": "cancel_jobs", "_selected_action": [j.pk for j in jobs]}
    )
    assert ("success", "2 jobs cancelled.") in said(response)
    assert set(Job.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_simulated_fault_says_how_many_printers_it_reached(
    client: Client, admin_user: Any, make_printer: Any
) -> None:
    printer = make_printer("sim-1")
    octo = make_printer("octo-1", connection_kind="octoprint", connection_settings={})
    client.force_login(admin_user)
    response = client.post(
        "/admin/farm/printer/",
        {"action": "simulate_offline", "_selected_action": [printer.pk, octo.pk]},
    )
    assert said(response) == [
        ("warning", "Only simulated printers have fault knobs."),
        ("success", "1 printer went offline."),
    ]


def test_an_operator_logs_in_to_the_admin_and_runs_its_bulk_actions(
    client: Client, operator: Any, make_printer: Any
) -> None:
    # An operator is in the operator group only: no staff flag to remember (farm/roles.py).
    assert not operator.is_staff
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "olga", "password": "pw-olga"}
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    full = [make_printer(f"p{i}", bed_clear=False) for i in range(2)]
    response = client.post(
        "/admin/farm/printer/",
        {"action": "confirm_bed_cleared", "_selected_action": [p.pk for p in full]},
    )
    assert ("success", "2 beds confirmed cleared.") in said(response)
    # The people are the administrators' business.
    assert client.get("/admin/auth/user/").status_code == 403


def test_an_employee_stays_out_of_the_admin(client: Client, alice: Any) -> None:
    response = client.post("/admin/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200  # the form again, with its error
    client.force_login(alice)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
