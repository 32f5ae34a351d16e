"""The Celery tasks' own decisions, run in this process with `Task.apply()`: the dispatch
task's retry and give-up policy, and operators' printer commands from the dashboard to the
printer. (A real worker runs them in tests/integration.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from farm.models import Event, Job, Printer
from farm.models.event import EventKind
from farm.services.dispatch import run_dispatch
from farm.services.preparation import job_prepare
from farm.services.printer_control import printer_driver
from farm.services.submission import job_submit
from farm.statuses import RunStatus
from farm.tasks import DISPATCH_RETRIES, printer_command_task, run_dispatch_task
from printers.drivers.simulated import SimulatedDriver
from printers.models import SimulatedDevice
from printers.states import DeviceState
from tests.farm.helpers import claim


@pytest.fixture
def job(alice: User, pla: Any, cube_upload: Any) -> Job:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    return Job.objects.get(pk=job.pk)


def simulated(printer: Printer) -> SimulatedDriver:
    driver = printer_driver(printer)
    assert isinstance(driver, SimulatedDriver)
    return driver


def test_dispatch_retries_a_printer_that_is_offline_then_gives_up_and_frees_it(
    job: Job, make_printer: Any
) -> None:
    printer = make_printer("p1", connection_settings={"speedup": 1.0})
    simulated(printer).go_offline()  # start() raises a transient error, every time
    run = claim(job, printer)

    run_dispatch_task.apply(args=[run.pk])  # eager: each retry runs at once

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.dispatch_attempts == DISPATCH_RETRIES + 1
    assert run.failure_reason.startswith("gave up after retries: ")
    assert "offline" in run.failure_reason
    assert Printer.objects.get(pk=printer.pk).current_run is None  # free for other work
    assert Printer.objects.get(pk=printer.pk).bed_clear  # nothing was printed


def test_dispatch_starts_the_run_once_the_printer_answers(job: Job, make_printer: Any) -> None:
    printer = make_printer("p1", connection_settings={"speedup": 1.0})
    run = claim(job, printer)

    run_dispatch_task.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == RunStatus.PRINTING
    assert run.dispatch_attempts == 0
    assert simulated(printer).status().job_name == run.job_name


def test_dispatch_fails_a_permanent_error_at_once_without_retrying(
    job: Job, make_printer: Any
) -> None:
    printer = make_printer("p1", connection_settings={"speedup": 1.0})
    SimulatedDevice.objects.create(device_id=printer.device_id, error="heater fault")
    run = claim(job, printer)

    run_dispatch_task.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.dispatch_attempts == 0
    assert run.failure_reason == "printer is in error: heater fault"
    assert Printer.objects.get(pk=printer.pk).current_run is None


def test_an_operator_pauses_resumes_and_cancels_a_printer_from_the_dashboard(
    client: Client, operator: User, job: Job, make_printer: Any
) -> None:
    printer = make_printer("p1", connection_settings={"speedup": 1.0})
    run = claim(job, printer)
    run_dispatch(run_id=run.pk)
    client.force_login(operator)
    driver = simulated(printer)

    for command, state in [
        ("pause", DeviceState.PAUSED),
        ("resume", DeviceState.PRINTING),
        ("cancel", DeviceState.READY),
    ]:
        response = client.post(f"/operator/printers/{printer.pk}/{command}/")
        assert response.status_code == 302
        event = Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED).first()
        assert event is not None and event.actor == operator and event.data["command"] == command
        printer_command_task.apply(args=[printer.pk, command])  # what the queued task does
        assert driver.status().state is state, command


def test_an_employee_cannot_send_printer_commands(
    client: Client, alice: User, make_printer: Any
) -> None:
    printer = make_printer("p1")
    client.force_login(alice)
    assert client.post(f"/operator/printers/{printer.pk}/pause/").status_code == 403
    assert not Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED).exists()


def test_an_unknown_printer_command_is_refused(
    client: Client, operator: User, make_printer: Any
) -> None:
    printer = make_printer("p1")
    client.force_login(operator)
    assert client.post(f"/operator/printers/{printer.pk}/clear_error/").status_code == 403
    assert client.post(f"/operator/printers/{printer.pk}/reboot/").status_code == 403
    assert not Event.objects.filter(kind=EventKind.PRINTER_COMMAND_REQUESTED).exists()
