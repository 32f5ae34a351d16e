"""An exact solver for tiny planning instances with site rules (OR-Tools CP-SAT), for tests.

It models the rules as the planner states them, in steps of `STEP` seconds (every time in
the instance must be a whole number of steps), independently of the
planner's code: each run on one printer; a printer's runs in a sequence (a circuit per
printer); after a run the bed waits for someone on the floor, then the clearing time; a
change of material or colour waits for someone, then takes the change time; at most
`max_heating` runs of the site start within any heat-up time. One site, jobs of one copy
per run with a colour asked for, so the state after a run is that run's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from farm.scheduling.calendar import Staffing
from farm.scheduling.types import PrinterSlot, SiteRules, WorkItem, incompatibility

STEP = 900.0  # a quarter of an hour: small tables, so the solver proves optima in seconds


def steps(seconds: float) -> int:
    count = round(seconds / STEP)
    assert abs(count * STEP - seconds) < 1e-6, f"{seconds} s is not a whole number of steps"
    return count


@dataclass(frozen=True)
class Optimum:
    makespan: float  # seconds from now
    changes: int


def solve(
    printers: list[PrinterSlot],
    work: list[WorkItem],
    rules: SiteRules,
    *,
    now: float,
    horizon_steps: int,
    max_makespan: float | None = None,
) -> Optimum:
    """The least makespan; with `max_makespan` (seconds), the fewest changes within it."""
    staffing = Staffing(rules)
    size = horizon_steps + 1

    def next_staffed(step: int) -> int:
        t = staffing.next_staffed(now + STEP * step)
        return min(size - 1, math.ceil((t - now) / STEP - 1e-9)) if math.isfinite(t) else size - 1

    table = [next_staffed(m) for m in range(size)]
    clear = steps(rules.clear_seconds)
    change = steps(rules.change_seconds)
    heat = steps(rules.heat_seconds) if rules.max_heating > 0 else 0
    m = cp_model.CpModel()
    n = len(work)
    length = [steps(w.seconds_per_copy) for w in work]
    start = [m.new_int_var(0, horizon_steps, f"s{r}") for r in range(n)]
    end = [m.new_int_var(0, horizon_steps, f"e{r}") for r in range(n)]
    staffed_after_end = [m.new_int_var(0, horizon_steps, f"se{r}") for r in range(n)]
    ready = [m.new_int_var(0, horizon_steps + clear, f"r{r}") for r in range(n)]
    staffed_after_ready = [m.new_int_var(0, horizon_steps, f"sr{r}") for r in range(n)]
    for r in range(n):
        m.add(end[r] == start[r] + length[r])
        m.add_element(end[r], table, staffed_after_end[r])
        m.add(ready[r] == staffed_after_end[r] + clear)
        m.add(ready[r] <= horizon_steps)
        m.add_element(ready[r], table, staffed_after_ready[r])
    state = [(w.material, w.colour.lower()) for w in work]
    on = [[m.new_bool_var(f"on{r}_{i}") for i in range(len(printers))] for r in range(n)]
    changes = []
    for r in range(n):
        m.add_exactly_one(on[r])
        for i, p in enumerate(printers):
            if incompatibility(p, work[r]) is not None:
                m.add(on[r][i] == 0)
    for i, p in enumerate(printers):
        free = steps(max(p.free_at, now) - now)
        held = (p.material, p.colour.lower())
        arcs: list[tuple[int, int, Any]] = []  # (from, to, literal): CP-SAT literal types
        for r in range(n):
            arcs.append((r + 1, r + 1, ~on[r][i]))
            first = m.new_bool_var(f"f{r}_{i}")
            arcs.append((0, r + 1, first))
            arcs.append((r + 1, 0, m.new_bool_var(f"l{r}_{i}")))
            if state[r] != held:
                m.add(start[r] >= table[min(free, size - 1)] + change).only_enforce_if(first)
                changes.append(first)
            else:
                m.add(start[r] >= free).only_enforce_if(first)
            for s in range(n):
                if s == r:
                    continue
                follows = m.new_bool_var(f"a{r}_{s}_{i}")
                arcs.append((r + 1, s + 1, follows))
                if state[s] != state[r]:
                    m.add(start[s] >= staffed_after_ready[r] + change).only_enforce_if(follows)
                    changes.append(follows)
                else:
                    m.add(start[s] >= ready[r]).only_enforce_if(follows)
        empty = m.new_bool_var(f"empty{i}")
        arcs.append((0, 0, empty))
        m.add_circuit(arcs)
    if rules.max_heating > 0 and heat > 0:
        heating = [m.new_interval_var(start[r], heat, start[r] + heat, f"h{r}") for r in range(n)]
        m.add_cumulative(heating, [1] * n, rules.max_heating)
    makespan = m.new_int_var(0, horizon_steps, "makespan")
    m.add_max_equality(makespan, end)
    if max_makespan is None:
        m.minimize(makespan)
    else:
        m.add(makespan <= math.floor(max_makespan / STEP + 1e-9))
        m.minimize(sum(changes))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 60.0
    status = solver.solve(m)
    assert status == cp_model.OPTIMAL, solver.status_name(status)
    return Optimum(
        makespan=STEP * solver.value(makespan),
        changes=sum(solver.value(c) for c in changes),
    )
