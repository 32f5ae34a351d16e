"""The audit log: who did what, from the farm's events and the admin's change log."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from django.urls import reverse

from farm.models import Printer
from farm.services.jobs import job_cancel
from farm.services.preparation import job_reject
from farm.services.printer_control import printer_command_request
from farm.services.runs import bed_clear
from farm.services.submission import job_submit
from farm.views.audit import PAGE_SIZE
from printers.commands import PrinterCommand

AUDIT = reverse("audit-log")


@pytest.fixture
def history(alice: Any, operator: Any, admin_user: Any, pla: Any, cube_upload: Any,
            make_printer: Any) -> dict[str, Any]:  # fmt: skip
    """Alice submits two parts and cancels one; an operator pauses a printer and clears its
    bed; an administrator changes the printer in the admin console."""
    printer = make_printer("p7", bed_clear=False)
    kept = job_submit(owner=alice, upload=cube_upload("kept.stl"), material=pla, quantity=1)
    gone = job_submit(owner=alice, upload=cube_upload("gone.stl"), material=pla, quantity=2)
    job_cancel(job=gone, actor=alice)
    printer_command_request(printer=printer, command=PrinterCommand.PAUSE, actor=operator)
    bed_clear(printer=printer, actor=operator)
    LogEntry.objects.log_actions(
        user_id=admin_user.pk,
        queryset=Printer.objects.filter(pk=printer.pk),
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Nozzle mm"]}}],
        single_object=True,
    )
    return {"printer": printer, "kept": kept, "gone": gone}


def td(kind: str) -> str:
    """A kind as its table cell shows it (the filter's menu lists every kind too)."""
    return f"<td>{kind}</td>"


def _page(client: Client, user: Any, **query: str) -> str:
    client.force_login(user)
    response = client.get(AUDIT, query)
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_who_did_what_from_events_and_the_admin(
    client: Client, operator: Any, history: dict[str, Any]
) -> None:
    page = _page(client, operator)
    for kind in ("job.submitted", "job.cancelled", "printer.command_requested",
                 "printer.bed_cleared", "admin.changed"):  # fmt: skip
        assert td(kind) in page
    gone = f"#{history['gone'].pk} gone.stl"
    for shown in ("Changed Nozzle mm.", "<td>alice</td>", "<td>olga</td>", gone):
        assert shown in page
    assert page.index(td("admin.changed")) < page.index(td("job.submitted"))  # newest first


def test_it_filters_by_actor_kind_printer_and_job(
    client: Client, operator: Any, history: dict[str, Any]
) -> None:
    by_alice = _page(client, operator, actor="alice")
    assert td("job.cancelled") in by_alice and td("printer.bed_cleared") not in by_alice
    printers = _page(client, operator, kind="printer.")
    assert td("printer.bed_cleared") in printers and td("job.submitted") not in printers
    on_p7 = _page(client, operator, printer="p7")
    assert td("admin.changed") in on_p7 and td("printer.command_requested") in on_p7
    assert td("job.submitted") not in on_p7
    gone = history["gone"]
    one_job = _page(client, operator, job=str(gone.pk))
    assert "gone.stl" in one_job and "kept.stl" not in one_job
    assert "Nothing matches." in _page(client, operator, job="not-a-number")


def test_the_farms_own_events_are_shown_when_asked(
    client: Client, operator: Any, history: dict[str, Any]
) -> None:
    job_reject(job_id=history["kept"].pk, reason="the mesh is not closed")
    assert td("job.rejected") not in _page(client, operator)  # no person did it
    page = _page(client, operator, system="1")
    assert td("job.rejected") in page and "<em>the farm</em>" in page


def test_it_pages_the_log(client: Client, operator: Any, history: dict[str, Any]) -> None:
    printer = history["printer"]
    for _ in range(PAGE_SIZE):
        printer_command_request(printer=printer, command=PrinterCommand.RESUME, actor=operator)
    first = _page(client, operator)
    assert "page 1 of 2" in first and "older" in first
    second = _page(client, operator, page="2")
    assert "page 2 of 2" in second and td("job.submitted") in second


def test_employees_and_strangers_may_not_read_it(client: Client, alice: Any) -> None:
    assert client.get(AUDIT).status_code == 302  # to the log-in page
    client.force_login(alice)
    assert client.get(AUDIT).status_code == 403


def test_administrators_may_read_it(client: Client, admin_user: Any, history: Any) -> None:
    assert td("admin.changed") in _page(client, admin_user)
