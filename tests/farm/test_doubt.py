"""Lost contact is not failure: a printer that stops answering mid-print holds its run in
doubt, and the run is reconciled from what the printer says when it answers again. Nothing
is printed twice unless a person asks for it.

Simulated printers and one fleet-link pass at a time; the clock seam is the printer's
`state_changed_at` (how long it has been silent) and the device's `started_at`.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from farm.models import Job, Printer, PrintRun
from farm.models.event import EventKind
from farm.services.dispatch import run_dispatch
from farm.services.fleet import fleet_link_build
from farm.services.preparation import job_prepare
from farm.services.scheduling import schedule_pass
from farm.services.submission import job_submit
from farm.statuses import JobStatus, RunStatus
from printers.models import SimulatedDevice

pytestmark = pytest.mark.django_db(transaction=True)


def fleet_pass() -> None:
    fleet_link_build(threads=1).run_once()


def silent_for(seconds: float) -> None:
    """The printers have not answered for this long (the fleet link recorded them offline)."""
    since = timezone.now() - datetime.timedelta(seconds=seconds)
    Printer.objects.update(state_changed_at=since)


@pytest.fixture
def printing(alice: User, pla: Any, cube_upload: Any, make_printer: Any) -> PrintRun:
    """A quantity-1 job printing on a printer that takes real time (speed-up 1), with a
    second free printer that could take the copy."""
    make_printer("far-away", connection_settings={"speedup": 1})
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1, colour="black")
    job_prepare(job_id=job.pk)
    schedule_pass()
    run = PrintRun.objects.get()
    run_dispatch(run_id=run.pk)
    make_printer("spare", connection_settings={"speedup": 1})
    fleet_pass()
    run.refresh_from_db()
    assert run.status == RunStatus.PRINTING
    return run


def cut(run: PrintRun) -> None:
    SimulatedDevice.objects.filter(device_id=run.printer.device_id).update(online=False)
    fleet_pass()  # the printer is recorded offline


def restore(run: PrintRun) -> None:
    SimulatedDevice.objects.filter(device_id=run.printer.device_id).update(online=True)


def back_idle(run: PrintRun) -> None:
    """The printer goes silent and comes back idle: its print is gone (a reboot, a power cut)."""
    cut(run)
    SimulatedDevice.objects.filter(device_id=run.printer.device_id).update(started_at=None)
    restore(run)
    fleet_pass()


def status_of(run: PrintRun) -> str:
    run.refresh_from_db()
    return run.status


def test_a_printer_silent_past_the_grace_holds_its_run_in_doubt_and_keeps_the_copy(
    printing: PrintRun, settings: Any
) -> None:
    cut(printing)
    silent_for(settings.FARM_OFFLINE_GRACE_SECONDS + 1)
    fleet_pass()
    assert status_of(printing) == RunStatus.IN_DOUBT
    assert printing.in_doubt_since is not None
    assert schedule_pass().runs_started == 0  # the spare printer gets nothing: no reprint
    assert PrintRun.objects.count() == 1
    assert Job.objects.get().status == JobStatus.PRINTING


def test_a_printer_back_and_still_printing_the_file_goes_on(
    printing: PrintRun, settings: Any
) -> None:
    cut(printing)
    silent_for(settings.FARM_OFFLINE_GRACE_SECONDS + 1)
    fleet_pass()
    restore(printing)
    fleet_pass()
    assert status_of(printing) == RunStatus.PRINTING
    assert printing.events.filter(kind=EventKind.RUN_CONTACT_BACK).exists()


def test_a_printer_back_having_finished_the_file_finishes_the_run_once(
    printing: PrintRun, settings: Any
) -> None:
    cut(printing)
    silent_for(settings.FARM_OFFLINE_GRACE_SECONDS + 1)
    fleet_pass()
    # While nobody could see it, the printer went on and finished the part.
    device = SimulatedDevice.objects.get(device_id=printing.printer.device_id)
    device.started_at = timezone.now() - datetime.timedelta(seconds=device.duration_s + 1)
    device.save()
    restore(printing)
    fleet_pass()
    assert status_of(printing) == RunStatus.AWAITING_REMOVAL
    schedule_pass()
    assert PrintRun.objects.count() == 1  # printed once


def test_a_printer_back_idle_interrupts_the_run_for_a_person_to_decide(
    printing: PrintRun, settings: Any
) -> None:
    cut(printing)
    silent_for(5)  # even inside the grace: an idle printer after a silence is not a failure
    SimulatedDevice.objects.filter(device_id=printing.printer.device_id).update(started_at=None)
    restore(printing)
    fleet_pass()
    assert status_of(printing) == RunStatus.INTERRUPTED
    assert "say whether the part is good or lost" in printing.failure_reason
    assert schedule_pass().runs_started == 0  # held: not reprinted by itself
    printer = Printer.objects.get(pk=printing.printer_id)
    assert not printer.bed_clear and printer.current_run_id == printing.pk


def test_an_operator_says_an_interrupted_part_is_good(
    printing: PrintRun, client: Client, operator: User
) -> None:
    back_idle(printing)
    client.force_login(operator)
    page = client.get("/operator/").content.decode()
    assert "Part is good, taken off" in page and "Part lost: reprint" in page

    client.post(f"/operator/runs/{printing.pk}/good/")

    assert status_of(printing) == RunStatus.DONE
    assert Job.objects.get().status == JobStatus.DONE
    printer = Printer.objects.get(pk=printing.printer_id)
    assert printer.bed_clear and printer.current_run is None
    assert PrintRun.objects.count() == 1


def test_an_operator_says_an_interrupted_part_is_lost_and_it_is_printed_again(
    printing: PrintRun, client: Client, operator: User
) -> None:
    back_idle(printing)
    client.force_login(operator)

    client.post(f"/operator/runs/{printing.pk}/reprint/")

    assert status_of(printing) == RunStatus.FAILED
    assert "olga asked for a reprint" in printing.failure_reason
    assert schedule_pass().runs_started == 1
    second = PrintRun.objects.exclude(pk=printing.pk).get()
    assert second.printer.name == "spare"  # the first printer waits for its bed to be cleared


def test_a_run_in_doubt_too_long_is_offered_for_a_reprint_elsewhere(
    printing: PrintRun, client: Client, operator: User, settings: Any
) -> None:
    cut(printing)
    silent_for(settings.FARM_OFFLINE_GRACE_SECONDS + 1)
    fleet_pass()
    client.force_login(operator)
    assert "Reprint elsewhere now" not in client.get("/operator/").content.decode()

    PrintRun.objects.filter(pk=printing.pk).update(
        in_doubt_since=timezone.now()
        - datetime.timedelta(seconds=settings.FARM_IN_DOUBT_ATTENTION_SECONDS + 1)
    )
    page = client.get("/operator/").content.decode()
    assert "Reprint elsewhere now" in page and "1 print to decide on" in page
    client.post(f"/operator/runs/{printing.pk}/reprint/")

    assert status_of(printing) == RunStatus.FAILED
    assert schedule_pass().runs_started == 1  # a person asked: the copy goes to the spare


def test_an_employee_cannot_decide_on_a_print(
    printing: PrintRun, client: Client, alice: User
) -> None:
    client.force_login(alice)
    assert client.post(f"/operator/runs/{printing.pk}/reprint/").status_code == 403
    assert client.post(f"/operator/runs/{printing.pk}/good/").status_code == 403
    assert status_of(printing) == RunStatus.PRINTING


def test_a_printer_in_touch_all_along_that_goes_idle_fails_the_run(
    printing: PrintRun,
) -> None:
    PrintRun.objects.filter(pk=printing.pk).update(
        started_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    SimulatedDevice.objects.filter(device_id=printing.printer.device_id).update(cancelled=True)
    fleet_pass()
    assert status_of(printing) == RunStatus.FAILED  # stopped at the printer, seen as it happened
    assert "stopped at the printer" in printing.failure_reason


def test_a_printer_back_in_error_after_a_silence_is_interrupted_not_reprinted(
    printing: PrintRun,
) -> None:
    cut(printing)
    SimulatedDevice.objects.filter(device_id=printing.printer.device_id).update(
        started_at=None, error="thermal runaway"
    )
    restore(printing)
    fleet_pass()
    assert status_of(printing) == RunStatus.INTERRUPTED
    assert "in error (thermal runaway)" in printing.failure_reason
    assert schedule_pass().runs_started == 0
