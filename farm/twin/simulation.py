"""The digital twin: a discrete-event simulation of the farm, driven by the real planner.

Printers print, fail, get repaired; people on shift clear beds and swap filament; sites go
down and come back; jobs and orders arrive. Every time a printer is ready it asks the same
`Engine.next_for_printer` the farm uses, and the engine is rebuilt (a full replan) when work
arrives, a run fails or a site changes, as the farm does. Actual print times differ from the
estimates by a random factor, so the plan is tested against a farm that does not follow it.

The scenario format is documented in `farm/twin/scenario.py`.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from farm.scheduling.calendar import Staffing
from farm.scheduling.engine import Engine
from farm.scheduling.estimates import Corrections, Observation, error_summary
from farm.scheduling.planner import plan
from farm.scheduling.promises import ClearingRules, due_with
from farm.scheduling.types import Assignment, PrinterSlot, SiteRules, WorkItem
from farm.twin.promises import PromiseBook
from farm.twin.scenario import Scenario

H = 3600.0
DAY = 24 * H

# Event kinds, in the order they are handled when they fall at the same moment.
ARRIVE, PROMISE, SITE, END, BREAK, READY, TICK = range(7)


@dataclass
class _Job:
    item: WorkItem
    arrived: float
    order: str | None
    unstarted: int
    done: int = 0
    finished: float | None = None


@dataclass
class _Printer:
    slot: PrinterSlot
    material: str
    colour: str
    token: int = 0  # bumped whenever a planned event for it becomes void
    busy_until: float = 0.0  # end of the run it prints, or when it is back from repair
    printing: tuple[int, int] | None = None  # (job id, copies)
    broken: bool = False
    printing_seconds: float = 0.0
    run_start: float = 0.0
    run_planned: float = 0.0  # the planned seconds of the run it prints


@dataclass
class _Stats:
    runs: int = 0
    failed_runs: int = 0
    breakdowns: int = 0
    material_changes: int = 0
    replans: int = 0
    replan_seconds: float = 0.0
    promise_seconds: float = 0.0
    plan_seconds: float = 0.0  # of it, full plans (following the plan, with promises)
    decisions: int = 0
    estimates: list[tuple[float, float]] = field(default_factory=list)  # (planned, actual)
    pieces_per_day: list[int] = field(default_factory=list)


class Twin:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.rng = np.random.default_rng(scenario.seed)
        self.now = scenario.start
        self.end = scenario.start + scenario.days * DAY
        self.printers = {p.id: _Printer(p, p.material, p.colour) for p in scenario.printers}
        self.rules = dict(scenario.sites)
        self.staffing = {site: Staffing(r) for site, r in self.rules.items()}
        self.down_sites: set[str] = set()
        self.jobs: dict[int, _Job] = {}
        self.events: list[tuple[float, int, int, int, Any]] = []
        self.seq = 0
        self.stats = _Stats(pieces_per_day=[0] * max(1, math.ceil(scenario.days)))
        self.engine: Engine | None = None
        self.dirty = True
        self.idle: set[int] = set(self.printers)
        self.eta: dict[str, float] = {}
        self.bias = dict(scenario.model_bias)
        self.corrections = Corrections()
        self.models = sorted({p.model for p in scenario.printers})
        share = scenario.promise_share
        # With promises the printers follow the full plan, as the farm's do, so a promise is
        # measured against the plan it was made from (the engine alone decides otherwise).
        self.book = (
            PromiseBook(share, ClearingRules.of(self.rules), spread=scenario.time_spread)
            if share is not None
            else None
        )
        self.queues: defaultdict[int, deque[Assignment]] = defaultdict(deque)

    # -- events ---------------------------------------------------------------------------

    def push(self, at: float, kind: int, data: Any = None, token: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, token, data))

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        for arrival in self.s.arrivals:
            self.push(arrival[0], ARRIVE, arrival)
        for outage in self.s.outages:
            self.push(outage.start, SITE, (outage.site, False))
            self.push(outage.end, SITE, (outage.site, True))
        if self.s.mtbf_hours > 0:
            for pid in self.printers:
                self.push(self.now + self.rng.exponential(self.s.mtbf_hours * H), BREAK, pid)
        t = self.now
        while t <= self.end:
            self.push(t, TICK)
            t += self.s.replan_hours * H
        while self.events and self.events[0][0] <= self.end:
            at, kind, _, token, data = heapq.heappop(self.events)
            self.now = at
            if kind == ARRIVE:
                self._arrive(data)
            elif kind == PROMISE:
                self._replan()
                self.eta[data] = self._promise(data)
                self._ask_idle()
            elif kind == SITE:
                self._site(*data)
            elif kind == END:
                self._end(data, token)
            elif kind == BREAK:
                self._break(data)
            elif kind == READY:
                self._ready(data, token)
            elif kind == TICK:
                self._tick()
        return self._report(time.perf_counter() - started)

    def _arrive(self, arrival: tuple[float, WorkItem, str | None]) -> None:
        at, item, order = arrival
        self.jobs[item.job_id] = _Job(replace(item, submitted=at), at, order, item.copies)
        self.dirty = True
        if order is not None and order not in self.eta:
            self.eta[order] = math.nan
            # After every part of the order has arrived (same moment, earlier kind).
            self.push(at, PROMISE, order)

    def _site(self, site: str, up: bool) -> None:
        if up:
            self.down_sites.discard(site)
            for p in self.printers.values():
                if p.slot.site == site and not p.broken:
                    self._schedule_ready(p, self.now)
        else:
            self.down_sites.add(site)
            for p in self.printers.values():
                if p.slot.site == site:
                    self._disrupt(p, f"site {site} down", "site down")
                if p.slot.site == site and p.printing is not None:
                    self._abort(p)  # a power cut loses the run; the site coming up clears it
        self.dirty = True
        self._replan()
        self._ask_idle()

    def _abort(self, p: _Printer) -> None:
        """The run on `p` is lost (power cut, breakdown): its copies go back to the queue."""
        p.token += 1
        if p.printing is not None:
            job_id, copies = p.printing
            self._requeue(job_id, copies)
        p.printing = None
        self.idle.discard(p.slot.id)

    def _end(self, pid: int, token: int) -> None:
        p = self.printers[pid]
        if token != p.token or p.printing is None:
            return
        job_id, copies = p.printing
        p.printing = None
        job = self.jobs[job_id]
        failed = self.rng.random() < self.s.run_failure_rate
        if self.book is not None:
            actual = self.now - p.run_start
            self.book.run_ended(p.slot.model, p.run_planned, actual, failed=failed)
        if failed:
            self._disrupt(p, f"run failed on printer {pid}", "run failed")
            self._requeue(job_id, copies)
        else:
            job.done += copies
            day = int((self.now - self.s.start) // DAY)
            if 0 <= day < len(self.stats.pieces_per_day):
                self.stats.pieces_per_day[day] += copies
            if job.done >= job.item.copies and job.finished is None:
                job.finished = self.now
        rules = self.rules.get(p.slot.site, SiteRules())
        cleared = self.now
        if not p.slot.auto_eject:
            cleared = self._staff(p.slot.site).next_staffed(self.now) + rules.clear_seconds
        self._schedule_ready(p, cleared)

    def _requeue(self, job_id: int, copies: int) -> None:
        """A lost run's copies wait again; the engine hands them to the next free printer."""
        self.jobs[job_id].unstarted += copies
        self.stats.failed_runs += 1
        if self.engine is None:
            self.dirty = True  # following the plan: the next pass places them
            return
        self.engine.requeue(job_id, copies)
        for pid in sorted(self.idle):
            if self.jobs[job_id].unstarted <= 0:
                break
            if self.engine.can_print(pid, job_id):
                self._ask(self.printers[pid])

    def _break(self, pid: int) -> None:
        p = self.printers[pid]
        self.stats.breakdowns += 1
        if self.book is not None and p.printing is not None:
            lost = self.now - p.run_start
            self.book.run_ended(p.slot.model, p.run_planned, lost, failed=True)
        self._disrupt(p, f"printer {pid} out of service", "out of service")
        self._abort(p)
        p.broken = True
        back = self.now + self.rng.exponential(self.s.repair_hours * H)
        p.busy_until = back
        self.push(back, READY, pid, p.token)
        self.push(back + self.rng.exponential(self.s.mtbf_hours * H), BREAK, pid)

    def _ready(self, pid: int, token: int) -> None:
        p = self.printers[pid]
        if token != p.token:
            return
        p.broken = False
        if p.slot.site in self.down_sites:
            return  # its site coming back up makes it ready again
        self._ask(p)

    def _tick(self) -> None:
        if self.dirty:
            self._replan()
        self._ask_idle()

    # -- promises (farm.twin.promises) ----------------------------------------------------

    def _disrupt(self, p: _Printer, reason: str, kind: str) -> None:
        if self.book is not None:
            jobs = {p.printing[0]} if p.printing is not None else set()
            self.book.disrupt_printer(p.slot.id, jobs, reason, kind)

    def _pass(self) -> None:
        """What the farm's scheduling pass does (`farm.services.scheduling`): a full plan that
        keeps the last one's runs not yet started (`previous`), promises for the jobs new in
        it and the hold rule for the others; the printers then follow it (`_follow`)."""
        assert self.book is not None
        started = time.perf_counter()
        slots = self._slots()
        previous = [a for q in self.queues.values() for a in q]
        sites = self._site_rules()
        full = plan(slots, self._pending(), now=self.now, sites=sites, previous=previous)
        self.queues = defaultdict(deque)
        for a in sorted(full.assignments, key=lambda a: a.start):
            self.queues[a.printer_id].append(a)
        printing: dict[int, float] = {}
        for p in self.printers.values():
            if p.printing is not None:
                end = p.run_start + p.run_planned  # what the farm expects, not the truth
                printing[p.printing[0]] = max(printing.get(p.printing[0], end), end)
        open_jobs = {j for j, job in self.jobs.items() if job.finished is None}
        by_id = {s.id: s for s in slots}
        planned = time.perf_counter()
        self.book.replanned(self.now, full.assignments, by_id, printing, open_jobs)
        self.stats.promise_seconds += time.perf_counter() - planned
        self.stats.plan_seconds += planned - started

    def _follow(self, p: _Printer) -> None:
        """Start the printer's next planned run when it is due, as the pass does
        (`is_due_now`: within a second, or within the filament change before it)."""
        queue = self.queues.get(p.slot.id)
        while queue and self.jobs[queue[0].job_id].unstarted <= 0:
            queue.popleft()  # its copies went to another printer, or it was lost and replanned
        self.stats.decisions += 1
        if not queue:
            self.idle.add(p.slot.id)
            return
        a = queue[0]
        change = self.rules.get(p.slot.site, SiteRules()).change_seconds
        due = a.start - (change if a.material_change else 0.0)
        if due > self.now + 1.0:
            self.idle.add(p.slot.id)  # a new pass may give it other work before then
            self.push(due, READY, p.slot.id, p.token)
            return
        queue.popleft()
        self._start(p, a, max(self.now, a.start))

    def _ask_idle(self) -> None:
        for pid in sorted(self.idle):
            self._ask(self.printers[pid])

    # -- the planner ----------------------------------------------------------------------

    def _staff(self, site: str) -> Staffing:
        if site not in self.staffing:
            self.staffing[site] = Staffing(self.rules.get(site, SiteRules()))
        return self.staffing[site]

    def _schedule_ready(self, p: _Printer, at: float) -> None:
        p.token += 1
        p.busy_until = at
        self.idle.discard(p.slot.id)
        self.push(at, READY, p.slot.id, p.token)

    def _pending(self) -> list[WorkItem]:
        items = [
            replace(j.item, copies=j.unstarted, due=self._due(j))
            for j in self.jobs.values()
            if j.unstarted > 0
        ]
        if not self.s.learn_estimates:
            return items
        # What the farm would do: per-model print times from the learned corrections.
        return [
            replace(
                w, model_seconds=self.corrections.model_seconds(w.seconds_per_copy, self.models)
            )
            for w in items
        ]

    def _due(self, job: _Job) -> float | None:
        """A promised job is due by its promise (`farm.scheduling.promises.due_with`)."""
        if self.book is None:
            return job.item.due
        return due_with(job.item.due, self.book.promise_of(job.item.job_id))

    def _slots(self) -> list[PrinterSlot]:
        slots = []
        for p in self.printers.values():
            free = max(self.now, p.busy_until)
            printing = p.printing is not None
            slots.append(
                replace(
                    p.slot,
                    free_at=free,
                    material=p.material,
                    colour=p.colour,
                    # The bed of a run still printing must be cleared before the next one.
                    needs_clearing=printing and not p.slot.auto_eject,
                )
            )
        return slots

    def _site_rules(self) -> dict[str, SiteRules]:
        rules = dict(self.rules)
        for outage in self.s.outages:
            if outage.start <= self.now < outage.end or (
                outage.site in self.down_sites and outage.end > self.now
            ):
                r = rules.get(outage.site, SiteRules())
                rules[outage.site] = replace(r, down=r.down + ((self.now, outage.end),))
        return rules

    def _replan(self) -> None:
        started = time.perf_counter()
        if self.book is not None:
            self._pass()
        else:
            slots, pending = self._slots(), self._pending()
            self.engine = Engine(slots, pending, now=self.now, sites=self._site_rules())
        self.stats.replans += 1
        self.stats.replan_seconds += time.perf_counter() - started
        self.dirty = False

    def _promise(self, order: str) -> float:
        """The planned completion of an order, from a full plan of all pending work now."""
        if self.book is not None:  # the plan the farm follows, made by this moment's pass
            planned = [a for q in self.queues.values() for a in q]
        else:
            slots, pending = self._slots(), self._pending()
            planned = plan(slots, pending, now=self.now, sites=self._site_rules()).assignments
        ids = {j.item.job_id for j in self.jobs.values() if j.order == order}
        ends = [a.end for a in planned if a.job_id in ids]
        return max(ends) if ends else math.nan

    def _ask(self, p: _Printer) -> None:
        if p.broken or p.printing is not None or p.slot.site in self.down_sites:
            return
        if self.book is not None:
            self._follow(p)
            return
        if self.engine is None:
            self._replan()
        assert self.engine is not None
        # A stale engine is fine between replans: arrivals and failed runs wait for the next
        # pass (replan_hours), as they do in the farm.
        self.stats.decisions += 1
        a = self.engine.next_for_printer(
            p.slot.id, at=self.now, material=p.material, colour=p.colour
        )
        if a is None or self.jobs.get(a.job_id) is None or self.jobs[a.job_id].unstarted <= 0:
            self.idle.add(p.slot.id)
            return
        self._start(p, a, a.start)

    def _start(self, p: _Printer, a: Assignment, start: float) -> None:
        job = self.jobs[a.job_id]
        copies = min(a.copies, job.unstarted)
        job.unstarted -= copies
        if a.material_change:
            self.stats.material_changes += 1
            p.material, p.colour = job.item.material, job.item.colour or p.colour
        planned = (a.end - a.start) * copies / a.copies
        model = p.slot.model
        estimate = job.item.seconds_per_copy * copies  # what slicing said, uncorrected
        truth = estimate * self.bias.get(model, 1.0)
        actual = truth * float(self.rng.lognormal(0.0, self.s.time_spread))
        self.stats.estimates.append((planned, actual))
        if self.s.learn_estimates:
            self.corrections.observe(Observation(model, p.slot.id, estimate, actual))
        p.printing = (a.job_id, copies)
        p.printing_seconds += actual
        p.run_start, p.run_planned = start, planned
        p.token += 1
        p.busy_until = start + actual
        self.idle.discard(p.slot.id)
        self.stats.runs += 1
        self.push(start + actual, END, p.slot.id, p.token)

    # -- the report -----------------------------------------------------------------------

    def _last_day_estimates(self) -> list[tuple[float, float]]:
        runs = self.stats.estimates
        share = 1.0 / max(1.0, self.s.days)
        return runs[int(len(runs) * (1 - share)) :]

    def _report(self, wall: float) -> dict[str, Any]:
        horizon = self.end - self.s.start
        orders: dict[str, dict[str, Any]] = {}
        for o in self.s.orders:
            jobs = [j for j in self.jobs.values() if j.order == o.name]
            pieces = sum(j.item.copies for j in jobs)
            done = sum(j.done for j in jobs)
            finished = [j.finished for j in jobs]
            complete = bool(jobs) and all(f is not None for f in finished)
            last = max((f for f in finished if f is not None), default=None)
            eta = self.eta.get(o.name, math.nan)
            orders[o.name] = {
                "pieces": pieces,
                "pieces_done": done,
                "complete": complete,
                "hours_to_complete": round((last - o.at) / H, 2) if complete and last else None,
                "planned_hours_at_arrival": round((eta - o.at) / H, 2) if eta == eta else None,
                "due_met": (complete and last is not None and last <= o.at + o.due_hours * H)
                if o.due_hours
                else None,
            }
        others = [j for j in self.jobs.values() if j.order is None]
        within = self.s.report_within_days * DAY
        done_in_time = sum(
            1 for j in others if j.finished is not None and j.finished - j.arrived <= within
        )
        old_enough = [j for j in others if self.end - j.arrived >= within]
        share_within = (
            sum(
                1 for j in old_enough if j.finished is not None and j.finished - j.arrived <= within
            )
            / len(old_enough)
            if old_enough
            else None
        )
        by_site: dict[str, list[float]] = {}
        by_model: dict[str, list[float]] = {}
        for p in self.printers.values():
            by_site.setdefault(p.slot.site, []).append(p.printing_seconds / horizon)
            by_model.setdefault(p.slot.model, []).append(p.printing_seconds / horizon)
        return {
            "scenario": self.s.name,
            "simulated_days": self.s.days,
            "wall_seconds": round(wall, 2),
            "printers": len(self.printers),
            "sites": sorted({p.slot.site for p in self.printers.values()}),
            "orders": orders,
            "other_jobs": len(others),
            "other_jobs_finished": sum(1 for j in others if j.finished is not None),
            "other_jobs_finished_within_days": done_in_time,
            f"share_within_{self.s.report_within_days:g}_days": (
                round(share_within, 4) if share_within is not None else None
            ),
            "pieces_per_day": self.stats.pieces_per_day,
            "utilisation_by_site": {s: round(float(np.mean(v)), 4) for s, v in by_site.items()},
            "utilisation_by_model": {m: round(float(np.mean(v)), 4) for m, v in by_model.items()},
            "estimate_error": asdict(error_summary(self.stats.estimates)),
            "estimate_error_last_day": asdict(error_summary(self._last_day_estimates())),
            "runs": self.stats.runs,
            "failed_runs": self.stats.failed_runs,
            "breakdowns": self.stats.breakdowns,
            "material_changes": self.stats.material_changes,
            "replans": self.stats.replans,
            "replan_seconds": round(self.stats.replan_seconds, 2),
            "decisions": self.stats.decisions,
            **self._promise_report(),
        }

    def _promise_report(self) -> dict[str, Any]:
        if self.book is None:
            return {}
        finished = {j: job.finished for j, job in self.jobs.items()}
        report = self.book.report(finished, self.end)
        report["promise_seconds"] = round(self.stats.promise_seconds, 2)
        report["plan_seconds"] = round(self.stats.plan_seconds, 2)
        return {"promises": report}


def simulate(scenario: Scenario) -> dict[str, Any]:
    return Twin(scenario).run()


__all__ = ["Twin", "simulate"]
