"""The twin driving the farm's real services on a simulated clock (`simulate --farm`).

A throwaway SQLite database (the command runs this in a child process pointed at one) holds a
farm built from the scenario: its sites with their staffed hours, printers, materials, and its
jobs as they arrive. The clock is the one seam: `django.utils.timezone.now` returns the
simulated time, so every service, row and plan reads it. The farm's own code then runs as in
production: `schedule_pass` plans, promises, quotes and starts runs; `run_start`,
`run_finish` and `run_fail` record what the simulated printers did (actual print times are the
estimate times a per-model bias and lognormal noise, runs fail at the scenario's rate);
`bed_clear` is a person in staffed hours; `printers_set_service` takes a broken printer out of
service and back; `site_mark_down` / `site_mark_up` follow the outages.

What stays simulated: the printers themselves and the people (no dispatch task, no fleet link:
a started run is printing at its planned start, when the farm's held dispatch would send it:
`send_run_dispatches`), and jobs arrive as rows already sliced (QUEUED, with the
scenario's print time), not through the upload form and slicing.
"""

from __future__ import annotations

import datetime
import heapq
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
from django.contrib.auth.models import User
from django.db.models import Max
from django.test import override_settings

from farm.models import Job, Material, Printer, PrintRun, PromiseChange, Site
from farm.scheduling.calendar import Staffing
from farm.scheduling.promises import error_p90, kept_share
from farm.scheduling.types import SiteRules, WorkItem
from farm.services.printer_actions import printers_set_service
from farm.services.printer_control import printer_load_filament
from farm.services.runs import bed_clear, run_dispatch_failed, run_fail, run_finish, run_start
from farm.services.scheduling import schedule_pass
from farm.services.sites import site_mark_down, site_mark_up
from farm.statuses import RUN_OPEN, RUN_PRINTED, RunStatus
from farm.twin.scenario import Scenario

H = 3600.0
ARRIVE, SITE, END, CLEAR, LOAD, BREAK, REPAIR, PASS, ASKED, START = range(10)


@contextmanager
def simulated_clock(clock: list[float]) -> Iterator[None]:
    """`timezone.now()` reads clock[0] (POSIX seconds) while inside."""

    def now() -> datetime.datetime:
        return datetime.datetime.fromtimestamp(clock[0], tz=datetime.UTC)

    with mock.patch("django.utils.timezone.now", now):
        yield


class FarmTwin:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.rng = np.random.default_rng(scenario.seed)
        self.clock = [scenario.start]
        self.events: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.bias = dict(scenario.model_bias)
        self.passes = 0
        self.runs = 0
        self.failed = 0
        self.loading: set[int] = set()  # printers an operator is on the way to
        # A change of the farm asks for a pass, as `enqueue_schedule_pass` does: with
        # `farm_pass_minutes` the requests made until the next pass share it (a farm of
        # thousands of printers changes every few seconds, and a pass takes seconds there).
        self.window = scenario.farm_pass_minutes * 60.0
        self.asked_at: float | None = None  # a pass was asked for then, none run since
        self.last_pass = -math.inf
        self.dispatched: set[int] = set()  # runs whose start (held dispatch) is pushed

    def push(self, at: float, kind: int, data: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, data))

    # -- the farm, built through the models ----------------------------------------------------

    def _build(self) -> None:
        self.actor = User.objects.create(username="twin-operator", is_staff=True)
        self.owner = User.objects.create(username="twin-employee")
        self.sites: dict[str, Site] = {}
        for slot in self.s.printers:
            if slot.site not in self.sites:
                rules = self.s.sites.get(slot.site, SiteRules())
                hours = rules.staffed_hours[0] if rules.staffed_hours else (0, 24)
                self.sites[slot.site] = Site.objects.create(
                    name=f"Site {slot.site}",
                    slug=slot.site.lower(),
                    staffed_from_hour=int(hours[0]),
                    staffed_until_hour=int(hours[1]),
                    staffed_weekdays="".join(str(d) for d in rules.staffed_weekdays),
                    max_heating=rules.max_heating,
                    last_heartbeat_at=self._now(),
                )
        self.materials: dict[str, Material] = {}
        self.printers: dict[int, Printer] = {}
        for slot in self.s.printers:
            printer = Printer.objects.create(
                name=f"{slot.site.lower()}-{slot.id}",
                site=self.sites[slot.site],
                model=slot.model,
                material=self._material(slot.material),
                colour=slot.colour,
                nozzle_mm=slot.nozzle_mm,
                build_x_mm=slot.build_mm[0],
                build_y_mm=slot.build_mm[1],
                build_z_mm=slot.build_mm[2],
                auto_eject=slot.auto_eject,
                connection_kind="simulated",
                connection_settings={"speedup": 1},  # its print times are the farm's
                state="ready",
            )
            self.printers[printer.pk] = printer
            if self.s.mtbf_hours > 0:
                self.push(
                    self._now_s() + self.rng.exponential(self.s.mtbf_hours * H), BREAK, printer.pk
                )
        self.staffing = {
            slug: Staffing(self.s.sites.get(slug, SiteRules())) for slug in self.s.sites
        }

    def _material(self, name: str) -> Material:
        if name not in self.materials:
            self.materials[name], _ = Material.objects.get_or_create(name=name or "PLA")
        return self.materials[name]

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.clock[0], tz=datetime.UTC)

    def _now_s(self) -> float:
        return self.clock[0]

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        end = self.s.start + self.s.days * 24 * H
        # The farm's beat is a pass every FARM_SCHEDULE_SECONDS, and a pass starts the runs
        # due before the next one (`scheduling.is_due_now`); with a window, the twin's next
        # pass is a window away, so the runs due until then start now, held until due.
        beat = {"FARM_SCHEDULE_SECONDS": self.window} if self.window > 0 else {}
        with simulated_clock(self.clock), override_settings(**beat):
            self._build()
            for arrival in self.s.arrivals:
                self.push(arrival[0], ARRIVE, arrival[1])
            for outage in self.s.outages:
                self.push(outage.start, SITE, (outage.site, False))
                self.push(outage.end, SITE, (outage.site, True))
            t = self.s.start
            while t <= end:
                self.push(t, PASS)
                t += self.s.replan_hours * H
            while self.events and self.events[0][0] <= end:
                at, kind, _, data = heapq.heappop(self.events)
                self.clock[0] = at
                self._handle(kind, data)
            return self._report(time.perf_counter() - started)

    def _handle(self, kind: int, data: Any) -> None:
        if kind == ARRIVE:
            self._arrive(data)
        elif kind == SITE:
            site = self.sites[data[0]]
            site.refresh_from_db()
            if data[1]:
                site_mark_up(site=site)
            else:
                site_mark_down(site=site, now=self._now())
            self._ask_pass()
        elif kind == END:
            self._end(*data)
        elif kind == CLEAR:
            bed_clear(printer=Printer.objects.get(pk=data), actor=None, reason="cleared (twin)")
            self._ask_pass()
        elif kind == LOAD:
            self._load(data)
        elif kind == BREAK:
            self._break(data)
        elif kind == REPAIR:
            printers_set_service(printer_ids=[data], in_service=True, actor=self.actor)
            self.push(self._now_s() + self.rng.exponential(self.s.mtbf_hours * H), BREAK, data)
            self._ask_pass()
        elif kind == PASS or (kind == ASKED and self.asked_at == data):
            self._pass()  # the periodic pass (beat), or one asked for and not yet run
        elif kind == START:
            self._start(data)

    def _arrive(self, item: WorkItem) -> None:
        Job.objects.create(
            owner=self.owner,
            name=f"part {item.job_id}",
            file=f"uploads/twin-{item.job_id}.gcode",
            file_kind="mesh",
            quantity=item.copies,
            material=self._material(item.material),
            colour=item.colour,
            priority=item.priority,
            due=None
            if item.due is None
            else datetime.datetime.fromtimestamp(item.due, tz=datetime.UTC),
            site=self.sites.get(item.site) if item.site else None,
            status="queued",
            estimate_source="sliced",
            seconds_per_copy=item.seconds_per_copy,
            grams_per_copy=10.0,
            size_x_mm=item.size_mm[0],
            size_y_mm=item.size_mm[1],
            size_z_mm=item.size_mm[2],
            copies_per_plate=item.copies_per_plate,
        )

    def _ask_pass(self) -> None:
        """A pass now, or (with a window) one pass for every request until it runs."""
        if self.window <= 0:
            self._pass()
        elif self.asked_at is None:
            self.asked_at = self._now_s()
            self.push(max(self._now_s(), self.last_pass + self.window), ASKED, self.asked_at)

    def _pass(self) -> None:
        self.passes += 1
        self.last_pass = self._now_s()
        self.asked_at = None  # this pass answers every request made so far
        schedule_pass()
        # The operators: a filament request is met at the next staffed moment, after the
        # change takes its time (a request withdrawn by then is not loaded).
        asked = Printer.objects.exclude(requested_material=None).select_related("site")
        asked = asked.order_by("pk")
        for printer in asked:
            if printer.pk not in self.loading:
                self.loading.add(printer.pk)
                self.push(
                    self._staffed(printer) + self._rules(printer).change_seconds, LOAD, printer.pk
                )
        # The dispatch a worker would do: every run just created prints from its planned
        # start (now, or later when the pass started it ahead: its dispatch is held).
        created = PrintRun.objects.filter(status=RunStatus.DISPATCHING).exclude(
            pk__in=self.dispatched
        )
        # In a fixed order, so the events (and the random draws) follow it: same seed, same farm.
        for pk, planned in created.order_by("pk").values_list("pk", "planned_start"):
            self.dispatched.add(pk)
            self.push(max(self._now_s(), planned.timestamp()), START, pk)

    def _start(self, run_id: int) -> None:
        self.dispatched.discard(run_id)
        run = PrintRun.objects.select_related("job", "printer").get(pk=run_id)
        if run.status != RunStatus.DISPATCHING:
            return  # released meanwhile (its site went down, its printer broke)
        run_start(run_id=run.pk)
        self.runs += 1
        estimate = (run.job.seconds_per_copy or 0.0) * run.copies
        truth = estimate * self.bias.get(run.printer.model, 1.0)
        actual = truth * float(self.rng.lognormal(0.0, self.s.time_spread))
        failed = bool(self.rng.random() < self.s.run_failure_rate)
        self.push(self._now_s() + actual, END, (run.pk, failed))

    def _end(self, run_id: int, failed: bool) -> None:
        run = PrintRun.objects.select_related("printer").get(pk=run_id)
        if run.status not in (RunStatus.PRINTING, RunStatus.PAUSED):
            return  # lost already (a breakdown, a site down)
        if failed:
            self.failed += 1
            run_fail(run_id=run_id, reason="the print came loose (twin)")
        else:
            run_finish(run_id=run_id)
        if not run.printer.auto_eject or failed:
            self.push(self._cleared(run.printer), CLEAR, run.printer_id)
        # `run_finish` and `run_fail` ask for a pass (`enqueue_schedule_pass`), as every end
        # of a print does on the farm: a failed run's copies are planned again at once, on
        # a free printer if there is one. (Before, the twin asked only after an auto-eject
        # finish, so a reprint waited for the next periodic pass or the morning's clearing.)
        self._ask_pass()

    def _load(self, printer_id: int) -> None:
        self.loading.discard(printer_id)
        printer = Printer.objects.select_related("requested_material", "current_run").get(
            pk=printer_id
        )
        run = printer.current_run
        if printer.requested_material is None or (run is not None and run.status in RUN_OPEN):
            return
        printer_load_filament(
            printer=printer,
            material=printer.requested_material,
            colour=printer.requested_colour,
            actor=self.actor,
        )
        self._ask_pass()

    def _rules(self, printer: Printer) -> SiteRules:
        return self.s.sites.get(printer.site.slug.upper(), SiteRules())

    def _staffed(self, printer: Printer) -> float:
        staffing = self.staffing.get(printer.site.slug.upper())
        return staffing.next_staffed(self._now_s()) if staffing is not None else self._now_s()

    def _cleared(self, printer: Printer) -> float:
        return self._staffed(printer) + self._rules(printer).clear_seconds

    def _break(self, printer_id: int) -> None:
        printer = Printer.objects.get(pk=printer_id)
        run = printer.current_run
        if run is not None and run.status in (RunStatus.PRINTING, RunStatus.PAUSED):
            self.failed += 1
            run_fail(run_id=run.pk, reason="the printer broke down (twin)")
            self.push(self._cleared(printer), CLEAR, printer_id)
        elif run is not None and run.status == RunStatus.DISPATCHING:
            # Broken before its held dispatch went out: the dispatch fails, the bed is clear.
            run_dispatch_failed(run_id=run.pk, reason="the printer broke down (twin)")
        printers_set_service(
            printer_ids=[printer_id], in_service=False, actor=self.actor, reason="broke down"
        )
        self.push(self._now_s() + self.rng.exponential(self.s.repair_hours * H), REPAIR, printer_id)
        self._ask_pass()

    # -- the report ------------------------------------------------------------------------------

    def _report(self, wall: float) -> dict[str, Any]:
        end = self._now()
        printed = dict(
            PrintRun.objects.filter(status__in=RUN_PRINTED)
            .values("job_id")
            .annotate(last=Max("ended_at"))
            .values_list("job_id", "last")
        )
        first = {c.job_id: c for c in PromiseChange.objects.order_by("-at", "-pk")}
        outcomes: list[tuple[float, float]] = []
        errors: list[tuple[float, float, float]] = []
        finals: list[tuple[float, float]] = []
        for job in Job.objects.exclude(promised_end=None):
            change = first.get(job.pk)
            assert job.promised_end is not None
            done_all = job.status == "done" or (
                job.pk in printed and _copies_printed(job) >= job.quantity
            )
            if change is None or (not done_all and job.promised_end > end):
                continue
            actual = printed.get(job.pk) if done_all else end
            assert actual is not None
            outcomes.append((change.new.timestamp(), actual.timestamp()))
            finals.append((job.promised_end.timestamp(), actual.timestamp()))
            errors.append((change.at.timestamp(), change.new.timestamp(), actual.timestamp()))
        # Every first promise's lead (from when it was made to what it promised), judged or
        # not, as the planner-only twin reports it: a margin padded to keep promises shows.
        leads = sorted((c.new - c.at).total_seconds() / H for c in first.values())
        moved = PromiseChange.objects.exclude(old=None).exclude(reason="confirmed as quoted")
        return {
            "scenario": self.s.name,
            "mode": "farm services on a simulated clock",
            "simulated_days": self.s.days,
            "wall_seconds": round(wall, 2),
            "passes": self.passes,
            "runs": self.runs,
            "failed_runs": self.failed,
            "jobs": Job.objects.count(),
            "jobs_done": Job.objects.filter(status="done").count(),
            "promises": {
                "judged_jobs": len(outcomes),
                "kept_share": _round(kept_share(outcomes)),
                "kept_share_after_moves": _round(kept_share(finals)),
                "error_p90_share_of_lead": _round(error_p90(errors)),
                "lead_hours_median": round(leads[len(leads) // 2], 2) if leads else None,
                "moved": moved.count(),
                "moves_by_reason": _reasons(moved.values_list("reason", flat=True)),
            },
        }


def _copies_printed(job: Job) -> int:
    return sum(r.copies for r in job.runs.filter(status__in=RUN_PRINTED))


KINDS = ("run failed", "out of service", "went offline", "down")


def _reasons(reasons: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason in reasons:
        kind = next((k for k in KINDS if k in reason), reason)
        out[kind] = out.get(kind, 0) + 1
    return out


def _round(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 4)


def simulate_farm(scenario: Scenario) -> dict[str, Any]:
    return FarmTwin(scenario).run()
