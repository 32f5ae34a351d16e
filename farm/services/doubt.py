"""Lost contact is not failure: runs in doubt, reconciled from what the printer reports.

A printer that stops answering mid-print (a network cut, a reboot of its host) may well go on
printing. Its run is *in doubt*: its copies stay off the queue and no timer prints them again.
When the printer answers, the run is reconciled from what it reports: the same file printing,
the run goes on; the same file finished, the run finished; idle, another file or an error, the
run is *interrupted* and a person decides whether the part is good (done) or lost (reprint).
A run in doubt for longer than FARM_IN_DOUBT_ATTENTION_SECONDS is put before the operators with
"reprint elsewhere now". Nothing is printed twice unless a person asked for it.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from farm.models import Job, Printer, PrintRun
from farm.models.event import EventKind
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.jobs import job_refresh_status
from farm.services.promise_disruptions import promises_disrupt_printers
from farm.services.runs import bed_clear, run_fail, run_transition
from farm.services.spools import spool_use_for_run
from farm.statuses import RunStatus


def run_mark_in_doubt(*, run_id: int, reason: str) -> None:
    """The printer has not answered for longer than the grace: say so, and keep the copies."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run_id)
        if run.status not in (RunStatus.PRINTING, RunStatus.PAUSED):
            return
        run_transition(run, RunStatus.IN_DOUBT, in_doubt_since=timezone.now())
        event_record(EventKind.RUN_IN_DOUBT, run=run, message=reason)
        name = Printer.objects.filter(pk=run.printer_id).values_list("name", flat=True).first()
        promises_disrupt_printers(reasons={run.printer_id: f"{name} went offline"})


def run_contact_back(*, run_id: int, paused: bool) -> None:
    """The printer answers again and is still printing (or pausing) this run's file."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.IN_DOUBT:
            return
        run_transition(run, RunStatus.PAUSED if paused else RunStatus.PRINTING)
        event_record(
            EventKind.RUN_CONTACT_BACK,
            run=run,
            message="the printer answers again and is still printing this run",
        )


def run_interrupt(*, run_id: int, reason: str, progress: float | None = None) -> None:
    """The printer answers without this print: hold the run (and the printer) for a person."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run_id)
        if run.status not in (RunStatus.PRINTING, RunStatus.PAUSED, RunStatus.IN_DOUBT):
            return
        fields: dict[str, object] = {"ended_at": timezone.now(), "failure_reason": reason[:1000]}
        if progress is not None:
            fields["progress"] = progress
        run_transition(run, RunStatus.INTERRUPTED, **fields)
        # Whatever the print became is on the bed until a person has looked.
        Printer.objects.filter(pk=run.printer_id).update(bed_clear=False)
        event_record(EventKind.RUN_INTERRUPTED, run=run, message=reason)
        enqueue_schedule_pass()


def run_accept(*, run: PrintRun, actor: User) -> None:
    """A person looked at an interrupted print: the part is good and off the bed."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().select_related("printer").get(pk=run.pk)
        if run.status != RunStatus.INTERRUPTED:
            raise ValidationError("Only an interrupted print can be accepted as good.")
        run_transition(run, RunStatus.AWAITING_REMOVAL, progress=1.0)
        event_record(EventKind.RUN_ACCEPTED, run=run, actor=actor, message="the part is good")
        spool_use_for_run(run=run)  # a good part took all its filament
        job_refresh_status(job=Job.objects.select_for_update().get(pk=run.job_id))
        bed_clear(printer=run.printer, actor=actor, reason="the interrupted print was good")


def run_reprint(*, run: PrintRun, actor: User) -> None:
    """A person decides the print is lost (or will not wait for a printer in doubt): its
    copies go back to the queue and are printed elsewhere. The printer keeps the run until
    someone confirms its bed is clear, so nothing starts on top of what is there."""
    with transaction.atomic():
        run = PrintRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in (RunStatus.IN_DOUBT, RunStatus.INTERRUPTED):
            raise ValidationError("Only a print in doubt or interrupted can be reprinted.")
        was = "in doubt" if run.status == RunStatus.IN_DOUBT else "interrupted"
        event_record(EventKind.RUN_REPRINT_REQUESTED, run=run, actor=actor, message=was)
        run_fail(run_id=run.pk, reason=f"{was}; {actor.username} asked for a reprint")


def runs_in_doubt_too_long(*, now: datetime.datetime | None = None) -> QuerySet[PrintRun]:
    """Runs in doubt for longer than FARM_IN_DOUBT_ATTENTION_SECONDS: for the operators."""
    now = now or timezone.now()
    limit = datetime.timedelta(seconds=settings.FARM_IN_DOUBT_ATTENTION_SECONDS)
    return PrintRun.objects.filter(status=RunStatus.IN_DOUBT, in_doubt_since__lte=now - limit)
