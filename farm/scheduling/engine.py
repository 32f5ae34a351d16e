"""The planning engine: one dispatch rule, used for single decisions and rule-bound plans.

Each job is first routed to one printer class ("primary"), in the proportions of the lower
bound's flow (see `bound.py`): that keeps scarce printers for the jobs only they can print,
which is what keeps the makespan near the bound. When a printer becomes ready it takes:

1. copies of a failed run (`requeue`), if they are as urgent as anything else it could take;
2. the most urgent primary work of its class (priority, then due date in day-wide buckets,
   then longest first), preferring the material and colour it holds within equal urgency,
   so changes are grouped; in the class's last stretch, the longest plate first (LPT), since
   a long run started last is what makes a plan end late;
3. near the end of a shift, a run that ends while people are there rather than one that would
   leave a finished bed waiting all night (long prints start in the evening, short by day);
4. when its class has nothing left, work routed elsewhere, but only if it finishes before
   the plan would end anyway ("stealing never extends the plan").

`run()` plays this rule on a simulated clock over every printer until the queues are empty:
the full plan under site rules (staffed hours, changes, staggered starts). Without such
rules `planner.plan` uses the faster class-by-class plan in `fast.py`. Queues are rank-ordered
lists with a skip pointer past exhausted jobs, so a decision costs a few list look-ups.
"""

from __future__ import annotations

import copy
import heapq
import math
from bisect import bisect_left
from collections.abc import Mapping

import numpy as np

from farm.scheduling.calendar import Staffing, Stagger, after_windows
from farm.scheduling.classes import build_index, why_unplaceable
from farm.scheduling.routing import RouteInput, route
from farm.scheduling.types import (
    Assignment,
    Plan,
    PlanOptions,
    PrinterSlot,
    SiteRules,
    Window,
    WorkItem,
)

_NO_DUE = 10**6  # due bucket of work without a due date: after every dated bucket
_PRIORITY_STEP = 10**7
NIGHT_LOOK = 48  # queue entries looked at for a run that suits the coming night or shift end
TAIL = 2.0  # a class is in its tail when its work left per printer is this many longest plates


class _Queue:
    """Jobs in rank order; `skip[i]` points at or before the next live entry after i."""

    __slots__ = ("head", "jobs", "keys", "skip")

    def __init__(self, jobs: list[int], keys: list[tuple[int, float]] | None = None) -> None:
        self.jobs = jobs
        self.skip = list(range(1, len(jobs) + 1))
        self.keys = keys  # (tier, -seconds) per entry, for the shorter-run search
        self.head = 0


class Engine:
    def __init__(
        self,
        printers: list[PrinterSlot],
        work: list[WorkItem],
        *,
        now: float,
        sites: Mapping[str, SiteRules] | None = None,
        options: PlanOptions | None = None,
    ) -> None:
        self.now = now
        self.options = options or PlanOptions()
        self.printers = printers
        self.work = work
        self.pos_of = {p.id: i for i, p in enumerate(printers)}
        rules = dict(sites or {})
        default = SiteRules()
        site_names = {p.site for p in printers}
        self.rules = {s: rules.get(s, default) for s in site_names}
        self.staffing = {s: Staffing(r) for s, r in self.rules.items()}
        self.stagger = {s: Stagger(r.max_heating, r.heat_seconds) for s, r in self.rules.items()}

        idx = build_index(printers, work, self.options)
        self.index = idx
        self.class_of = idx.class_of
        self.remaining = [max(0, w.copies) if w.seconds_per_copy > 0 else 0 for w in work]
        self.unplaceable: dict[int, str] = {}
        for j in np.nonzero(idx.group_of < 0)[0].tolist():
            if self.remaining[j]:
                reps = [printers[m[0]] for m in idx.class_members]
                self.unplaceable[work[j].job_id] = why_unplaceable(reps, work[j], self.options)
                self.remaining[j] = 0

        # Per job: seconds per copy on each class's model (most jobs: one number for all).
        self.base = [w.seconds_per_copy for w in work]
        # None where every model takes the base time (a farm without learned corrections):
        # the routing and the plans then skip a look-up per job and class (a second a pass).
        self.by_model = [
            dict(w.model_seconds)
            if w.model_seconds and any(s != w.seconds_per_copy for _, s in w.model_seconds)
            else None
            for w in work
        ]
        # Longest plate first within equal urgency (LPT): what keeps the end of the plan even.
        self.per_plate = [w.copies_per_plate if w.copies_per_plate > 1 else 1 for w in work]
        # min(max(1, copies), per plate), without two calls per job
        self.plate_seconds = [
            w.seconds_per_copy * (c if (c := w.copies if w.copies > 1 else 1) < n else n)
            for w, n in zip(work, self.per_plate, strict=True)
        ]
        self.site_code = {s: i for i, s in enumerate(sorted(site_names))}
        self.pref = [
            self.site_code.get(w.preferred_site, -1) if w.preferred_site else -1 for w in work
        ]
        self.class_site_code = [self.site_code[s] for s in idx.class_site]
        self.tier = self._tiers()

        # Printer state.
        self.free = [max(p.free_at, now) for p in printers]
        self.loaded = [(p.material, p.colour.lower()) for p in printers]
        self.loaded_at_start = list(self.loaded)  # `loaded` changes as a plan is made
        for i, p in enumerate(printers):
            if p.needs_clearing and not p.auto_eject:
                self.free[i] = self._cleared(p.site, self.free[i])
        self.windows: list[tuple[Window, ...]] = [
            p.maintenance + self.rules[p.site].down for p in printers
        ]
        # A printer inside a window (its site down, say) is free only when the window ends.
        for i, windows in enumerate(self.windows):
            for _ in windows:
                inside = [b for a, b in windows if a <= self.free[i] < b]
                if not inside:
                    break
                self.free[i] = max(inside)
        self.free_at_start = list(self.free)
        # Per printer, what its site's rules say: looked up once, used at every decision.
        self._staffing_of = [self.staffing[p.site] for p in printers]
        self._stagger_of = [self.stagger[p.site] for p in printers]
        self._change_of = [self.rules[p.site].change_seconds for p in printers]
        self._clear_of = [self.rules[p.site].clear_seconds for p in printers]
        self._auto_eject = [p.auto_eject for p in printers]

        self.lower_bound, self.primary = route(
            RouteInput(
                now=now,
                index=idx,
                free=self.free,
                remaining=self.remaining,
                per_plate=self.per_plate,
                base=self.base,
                by_model=self.by_model,
                seconds=self.seconds,
                class_site=self.class_site_code,
                preferred=self.pref,
            )
        )
        self.latest_end = self.lower_bound  # stealing must never push the plan past this
        self._queues_built = False
        self._job_pos = {w.job_id: j for j, w in enumerate(work)}
        self._revived: list[int] = []  # jobs whose failed copies came back since the plan

    def fork(self) -> Engine:
        """A copy to play a second plan on: what a plan changes (copies left, free times,
        loaded filament, heat-up slots, queues) is its own; the routing and the indexes,
        most of an engine's set-up, are shared."""
        other = copy.copy(self)
        other.remaining = list(self.remaining)
        other.free = list(self.free)
        other.loaded = list(self.loaded)
        other.stagger = {s: Stagger(r.max_heating, r.heat_seconds) for s, r in self.rules.items()}
        other._stagger_of = [other.stagger[p.site] for p in self.printers]
        other.latest_end = self.lower_bound
        other._queues_built = False
        other._revived = []
        return other

    # -- set-up ---------------------------------------------------------------------------

    def _tiers(self) -> list[int]:
        """Urgency per job, smaller first: priority, then the due date's day-wide bucket."""
        due = np.array([np.nan if w.due is None else w.due for w in self.work], dtype=float)
        priority = np.clip(np.array([w.priority for w in self.work], dtype=np.int64), -10, 10)
        bucket = np.full(len(self.work), _NO_DUE, dtype=np.int64)
        dated = ~np.isnan(due)
        bucket[dated] = np.maximum(
            0, (due[dated] - self.now) // self.options.due_bucket_seconds
        ).astype(np.int64)
        return ((10 - priority) * _PRIORITY_STEP + bucket).tolist()

    def seconds(self, j: int, k: int) -> float:
        by_model = self.by_model[j]
        if by_model is None:
            return self.base[j]
        return by_model.get(self.index.class_model[k], self.base[j])

    def _rank_order(self) -> list[int]:
        if not hasattr(self, "_order"):
            tier = np.array(self.tier, dtype=np.int64)
            base = np.array(self.plate_seconds, dtype=float)
            ids = np.array([w.job_id for w in self.work], dtype=np.int64)
            self._order: list[int] = np.lexsort((ids, -base, tier)).tolist()
            self.rank = [0] * len(self._order)
            for r, j in enumerate(self._order):
                self.rank[j] = r
        return self._order

    def _build_queues(self) -> None:
        idx = self.index
        n_classes = len(idx.class_members)
        order = self._rank_order()
        by_class: list[list[int]] = [[] for _ in range(n_classes)]
        by_state: dict[tuple[int, str, str], list[int]] = {}
        for j in order:
            k = self.primary[j]
            if k < 0 or not self.remaining[j]:
                continue
            by_class[k].append(j)
            w = self.work[j]
            by_state.setdefault((k, w.material, w.colour.lower()), []).append(j)
        self.q_class = [_Queue(q, self._keys(q)) for q in by_class]
        # The same jobs longest first, for the class's tail (see `decide`).
        plate = self.plate_seconds
        self.q_longest = [_Queue(sorted(q, key=lambda j: -plate[j])) for q in by_class]
        self.class_left = [sum(self.base[j] * self.remaining[j] for j in q) for q in by_class]
        self.class_printers = [len(m) for m in idx.class_members]
        self.q_state = {key: _Queue(q, self._keys(q)) for key, q in by_state.items()}

        # Fallback (every eligible job, rank order) is built per class on first use: most
        # classes never need it before the plan's tail.
        self.q_fallback: list[_Queue | None] = [None] * n_classes
        self._order_array = np.array(order, dtype=np.int64)
        self._queues_built = True

    def _fallback(self, k: int) -> _Queue:
        q = self.q_fallback[k]
        if q is None:
            column = self.index.eligible[self._order_array, k]
            q = self.q_fallback[k] = _Queue(self._order_array[column].tolist())
        return q

    def _keys(self, jobs: list[int]) -> list[tuple[int, float]]:
        return [(self.tier[j], -self.plate_seconds[j]) for j in jobs]

    # -- queues ---------------------------------------------------------------------------

    def _find(self, q: _Queue, i: int) -> int:
        """The first live entry at or after i (len(q.jobs) if none), compressing the path."""
        jobs, skip, rem = q.jobs, q.skip, self.remaining
        n = len(jobs)
        start = i
        while i < n and rem[jobs[i]] == 0:
            i = skip[i]
        while start < i:
            nxt = skip[start]
            skip[start] = i
            start = nxt
        return i

    def _head(self, q: _Queue | None) -> int:
        if q is None:
            return -1
        h = q.head
        if h < len(q.jobs) and self.remaining[q.jobs[h]]:
            return h  # the usual case: the head is still live, no skipping to do
        q.head = h = self._find(q, h)
        return h if h < len(q.jobs) else -1

    def _eff_tier(self, j: int, k: int) -> int:
        pref = self.pref[j]
        # Away from the site the part is needed at, it counts as one due bucket later.
        return self.tier[j] + (1 if pref >= 0 and pref != self.class_site_code[k] else 0)

    # -- the decision ---------------------------------------------------------------------

    def decide(self, i: int, at: float) -> Assignment | None:
        """Choose and commit printer position i's next run, the printer being ready at `at`."""
        k = self.class_of[i]
        material, colour = self.loaded[i]
        best: tuple[tuple[int, int, int], _Queue, int] | None = None
        revived = self._take_revived(k) if self._revived else -1
        q = self.q_class[k]
        h = self._head(q)
        tail = False
        if h >= 0:
            # In the class's last stretch, longest first: a long run started last is what
            # makes a plan end late (the LPT rule); before that, urgency first.
            n = self.class_printers[k]
            if n > 1:
                lq = self.q_longest[k]
                hl = self._head(lq)
                if self.class_left[k] <= TAIL * n * self.plate_seconds[lq.jobs[hl]]:
                    q, h, tail = lq, hl, True
            j = q.jobs[h]
            best = ((0, self._eff_tier(j, k), self.rank[j]), q, h)
        else:
            best = self._steal(i, k, at)
        if revived >= 0 and (best is None or self._eff_tier(revived, k) <= best[0][1]):
            # A failed run's copies, as urgent as anything queued here: they go first.
            change = self._needs_change(i, revived)
            if not change or self.options.allow_material_changes:
                timing = self._timing(i, revived, k, at, change)
                return self._commit(i, revived, k, timing, change)
        if best is None:
            return None
        same = None
        for c in (colour, "") if not tail else ():
            sq = self.q_state.get((k, material, c))
            h = self._head(sq)
            if sq is not None and h >= 0:
                j = sq.jobs[h]
                key = (0, self._eff_tier(j, k), self.rank[j])
                if same is None or key < same[0]:
                    same = (key, sq, h)
        if same is not None and same[0][:2] <= best[0][:2]:
            best = same
        _, q, h = best
        j = q.jobs[h]
        change = self._needs_change(i, j)
        if change and not self.options.allow_material_changes:
            return None
        run = self._timing(i, j, k, at, change)
        if q.keys is not None and run[2] > self.options.night_wait_seconds:
            h2 = self._shorter(q, h, i, at, change)
            if h2 >= 0:
                j = q.jobs[h2]
                change = self._needs_change(i, j)  # the class queue mixes materials
                if change and not self.options.allow_material_changes:
                    return None
                run = self._timing(i, j, k, at, change)
        return self._commit(i, j, k, run, change)

    def _steal(self, i: int, k: int, at: float) -> tuple[tuple[int, int, int], _Queue, int] | None:
        """Work routed elsewhere that printer i can finish without extending the plan.

        Looks at the first few live entries only: stealing is for the plan's tail, and a
        bounded look keeps the decision cheap.
        """
        q = self._fallback(k)
        h = self._head(q)
        looked = 0
        while 0 <= h < len(q.jobs) and looked < 16:
            j = q.jobs[h]
            copies = min(self.remaining[j], max(1, self.work[j].copies_per_plate))
            if max(at, self.now) + self.seconds(j, k) * copies <= self.latest_end:
                return ((1, self._eff_tier(j, k), self.rank[j]), q, h)
            looked += 1
            h = self._find(q, h + 1)
        return None

    def _needs_change(self, i: int, j: int) -> bool:
        material, colour = self.loaded[i]
        w = self.work[j]
        return material != w.material or (bool(w.colour) and colour != w.colour.lower())

    def _cleared(self, site: str, end: float) -> float:
        return self.staffing[site].next_staffed(end) + self.rules[site].clear_seconds

    def _timing(
        self, i: int, j: int, k: int, at: float, change: bool
    ) -> tuple[float, float, float]:
        """(start, end, wait for a person after the end) of job j's next plate on printer i."""
        staffing = self._staffing_of[i]
        copies = min(self.remaining[j], self.per_plate[j])
        duration = self.seconds(j, k) * copies
        start = at if at > self.now else self.now
        if change:
            start = staffing.next_staffed(start) + self._change_of[i]
        windows = self.windows[i]
        if windows:
            start = after_windows(start, duration, windows)
        # The heat-up slot is taken in `_commit`: it moves a start by minutes at most, and
        # looking it up once instead of for every candidate run halves the cost of a decision.
        end = start + duration
        wait = 0.0 if self._auto_eject[i] else staffing.next_staffed(end) - end
        return start, end, wait

    def _shorter(self, q: _Queue, h: int, i: int, at: float, change: bool) -> int:
        """The most urgent of the next few live entries whose run leaves no bed waiting long
        for the next shift (a long print overnight, a short one by day); else a run of the
        same urgency that ends before the shift does; else -1.
        """
        assert q.keys is not None
        k = self.class_of[i]
        staffing = self._staffing_of[i]
        start = max(at, self.now)
        limit = self.options.night_wait_seconds
        e = self._find(q, h + 1)
        for _ in range(NIGHT_LOOK):
            if e >= len(q.jobs):
                break
            j = q.jobs[e]
            end = start + self.seconds(j, k) * min(self.remaining[j], self.per_plate[j])
            # No swap of filament just to suit the night, unless one was due anyway.
            if staffing.next_staffed(end) - end <= limit and (
                change or not self._needs_change(i, j)
            ):
                return e
            e = self._find(q, e + 1)
        site = self.printers[i].site
        left = self.staffing[site].shift_end(start) - start
        if left <= 0 or math.isinf(left):
            return -1
        tier = q.keys[h][0]
        h2 = self._find(q, bisect_left(q.keys, (tier, -left), lo=h))
        if h2 < len(q.jobs) and q.keys[h2][0] == tier:
            return h2
        return -1

    def _commit(
        self, i: int, j: int, k: int, run: tuple[float, float, float], change: bool
    ) -> Assignment:
        start, end, wait = run
        p = self.printers[i]
        stagger = self._stagger_of[i]
        if stagger.active:
            windows = self.windows[i]
            start = stagger.take(start)
            while windows and after_windows(start, end - run[0], windows) != start:
                start = stagger.take(after_windows(start, end - run[0], windows))
            if start != run[0]:
                end = start + (end - run[0])
                wait = 0.0 if self._auto_eject[i] else self._staffing_of[i].next_staffed(end) - end
        copies = min(self.remaining[j], self.per_plate[j])
        self.remaining[j] -= copies
        if self._queues_built and self.primary[j] >= 0:
            self.class_left[self.primary[j]] -= self.base[j] * copies
        w = self.work[j]
        if change:
            self.loaded[i] = (w.material, w.colour.lower())
        self.free[i] = end if p.auto_eject else end + wait + self._clear_of[i]
        if end > self.latest_end:
            self.latest_end = end
        return Assignment(w.job_id, p.id, copies, start, end, change)

    # -- whole plans and single decisions ---------------------------------------------------

    def run(self) -> Plan:
        """Plan every remaining copy (the engine's queues are consumed)."""
        if not self._queues_built:
            self._build_queues()
        plan = Plan(unplaceable=dict(self.unplaceable), lower_bound=self.lower_bound)
        ready = [(self.free[i], i) for i in range(len(self.printers))]
        heapq.heapify(ready)
        out = plan.assignments
        while ready:
            at, i = heapq.heappop(ready)
            a = self.decide(i, at)
            if a is not None:
                out.append(a)
                heapq.heappush(ready, (self.free[i], i))
        return plan

    def next_for_printer(
        self, printer_id: int, *, at: float, material: str | None = None, colour: str | None = None
    ) -> Assignment | None:
        """The run printer `printer_id` should start next, it being ready at `at`."""
        if not self._queues_built:
            self._build_queues()
        i = self.pos_of[printer_id]
        if material is not None:
            self.loaded[i] = (material, (colour or "").lower())
        self.free[i] = at
        return self.decide(i, at)

    def requeue(self, job_id: int, copies: int) -> None:
        """Copies of a failed run are waiting again: the next compatible printer takes them."""
        j = self._job_pos.get(job_id)
        if j is None or copies <= 0:
            return
        self.remaining[j] += copies
        self._revived.append(j)

    def can_print(self, printer_id: int, job_id: int) -> bool:
        i, j = self.pos_of.get(printer_id), self._job_pos.get(job_id)
        return i is not None and j is not None and bool(self.index.eligible[j, self.class_of[i]])

    def _take_revived(self, k: int) -> int:
        """A requeued job class k can print, most urgent first, or -1."""
        self._revived = [j for j in self._revived if self.remaining[j] > 0]
        eligible = self.index.eligible
        fits = [j for j in self._revived if eligible[j, k]]
        return min(fits, key=self.tier.__getitem__) if fits else -1
