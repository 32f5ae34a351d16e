"""The fleet view's data: which printers a filter selects, in which order, on which page.

At 10,000 printers the page cannot carry every printer, and a live update cannot look at
every printer: `fleet_page` reads one narrow row per printer (no joins beyond the site) to
filter, count and sort, then the page's printers in full; a live update (`fleet_cards`) reads
only the printers the change feed named that the client shows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from farm.models import Material, Printer, Site
from farm.models.printer import PrinterState
from farm.services.sites import UNKNOWN
from farm.statuses import RUN_OPEN, RunStatus

PAGE_SIZE = 120
# What the view shows instead of the device state when the farm does not use the printer.
UNUSED_MAINTENANCE = "maintenance"
UNUSED_DISABLED = "disabled"
ATTENTION_GROUP = "Needs attention"
_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=65536)
def natural_key(text: str) -> tuple[str | int, ...]:
    """berlin-2 before berlin-10: digit runs compare as numbers, the rest as text.

    Splitting on a captured group alternates text and digits, text first, so two keys never
    compare a number with a text. Kept in memory: a farm's names change rarely, and sorting
    10,000 printers asks for 30,000 keys.
    """
    parts = _DIGITS.split(text.lower())
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts))


def shown_state(
    *, state: str, maintenance: bool, enabled: bool, site_down: bool, bed_clear: bool, run: bool
) -> str:
    """The one word a card shows: the farm's use of the printer before the device's state."""
    if maintenance:
        return UNUSED_MAINTENANCE
    if not enabled:
        return UNUSED_DISABLED
    if site_down:
        # Nobody watches it: not failed, not its last state; it may be printing on its own.
        return UNKNOWN
    if state == PrinterState.FINISHED and bed_clear and not run:
        return PrinterState.READY  # the last print is off the bed: it waits for work
    return state


ATTENTION_STATES = frozenset({PrinterState.ERROR, PrinterState.OFFLINE, PrinterState.FINISHED})


def needs_attention(*, state: str, bed_clear: bool, run_status: str | None, filament: bool) -> bool:
    """A person is needed: a bed to clear, an error, filament to load, a printer not answering,
    a print to decide on."""
    held = run_status in (RunStatus.INTERRUPTED, RunStatus.IN_DOUBT)
    to_clear = not bed_clear and (run_status is None or run_status not in RUN_OPEN)
    return to_clear or filament or held or state in ATTENTION_STATES


@dataclass(frozen=True)
class FleetFilters:
    site: str = ""
    state: str = ""
    material: str = ""
    model: str = ""
    tag: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, query: Any) -> FleetFilters:
        return cls(**{name: str(query.get(name, "")).strip()[:100] for name in FIELDS})

    def as_query(self, **override: str) -> dict[str, str]:
        values = {name: getattr(self, name) for name in FIELDS} | override
        return {name: value for name, value in values.items() if value}


FIELDS = ("site", "state", "material", "model", "tag", "q")


@dataclass(frozen=True)
class Brief:
    """One printer as the view sorts and counts it."""

    pk: int
    name: str
    site: str
    row: str
    position: int
    state: str
    attention: bool
    material: str
    model: str
    tags: frozenset[str]


@dataclass
class FleetPage:
    ids: list[int]  # the page's printers, in order
    groups: list[tuple[str, list[int]]]  # (heading, ids) in order
    counts: dict[str, int]  # printers per shown state, of those the other filters select
    attention: int
    total: int  # printers the filters select
    page: int
    pages: int
    choices: dict[str, list[str]] = field(default_factory=dict)


def fleet_briefs(*, down_site_ids: set[int]) -> list[Brief]:
    """Every printer as one narrow row: one query without the joins it can do without (site
    and material names come from their small tables), a few comparisons per printer."""
    sites = dict(Site.objects.values_list("pk", "name"))
    materials = dict(Material.objects.values_list("pk", "name"))
    rows = Printer.objects.values_list(
        "pk",
        "name",
        "site_id",
        "row",
        "position",
        "state",
        "maintenance",
        "enabled",
        "bed_clear",
        "current_run__status",
        "requested_material_id",
        "material_id",
        "model",
        "tags",
    )
    out = []
    for (
        pk,
        name,
        site_id,
        row,
        position,
        state,
        maint,
        on,
        clear,
        run,
        want,
        mat,
        model,
        tags,
    ) in rows:
        shown = shown_state(
            state=state,
            maintenance=maint,
            enabled=on,
            site_down=site_id in down_site_ids,
            bed_clear=clear,
            run=run is not None,
        )
        unused = shown in (UNUSED_MAINTENANCE, UNUSED_DISABLED, UNKNOWN)
        out.append(
            Brief(
                pk=pk,
                name=name,
                site=sites[site_id],
                row=row,
                position=position,
                state=shown,
                attention=not unused
                and needs_attention(
                    state=shown, bed_clear=clear, run_status=run, filament=want is not None
                ),
                material=materials.get(mat, ""),
                model=model,
                tags=_tags(tags),
            )
        )
    return out


@functools.lru_cache(maxsize=4096)
def _tags(text: str) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in text.split(",") if t.strip())


def _matches(brief: Brief, filters: FleetFilters, *, with_state: bool) -> bool:
    if filters.site and brief.site != filters.site:
        return False
    if filters.material and brief.material != filters.material:
        return False
    if filters.model and brief.model != filters.model:
        return False
    if filters.tag and filters.tag.lower() not in brief.tags:
        return False
    if filters.q:
        needle = filters.q.lower()
        haystack = f"{brief.name} {brief.site} {brief.row} {brief.model} {' '.join(brief.tags)}"
        if needle not in haystack.lower():
            return False
    if with_state and filters.state:
        if filters.state == "attention":
            return brief.attention
        return brief.state == filters.state
    return True


def walking_order(brief: Brief) -> tuple[Any, ...]:
    """The order someone walks the floor: site, row, place in the row, then name."""
    return (
        natural_key(brief.site),
        natural_key(brief.row),
        brief.position,
        natural_key(brief.name),
    )


def fleet_page(briefs: Iterable[Brief], filters: FleetFilters, page: int = 1) -> FleetPage:
    """The filtered printers, needing attention first, then grouped by site and row."""
    briefs = list(briefs)
    unstated = [b for b in briefs if _matches(b, filters, with_state=False)]
    counts: dict[str, int] = {}
    for brief in unstated:
        counts[brief.state] = counts.get(brief.state, 0) + 1
    chosen = [b for b in unstated if _matches(b, filters, with_state=True)]
    chosen.sort(key=lambda b: (not b.attention, walking_order(b)))
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    groups: list[tuple[str, list[int]]] = []
    for brief in shown:
        heading = ATTENTION_GROUP if brief.attention else _group_heading(brief)
        if not groups or groups[-1][0] != heading:
            groups.append((heading, []))
        groups[-1][1].append(brief.pk)
    return FleetPage(
        ids=[b.pk for b in shown],
        groups=groups,
        counts=dict(sorted(counts.items())),
        attention=sum(1 for b in unstated if b.attention),
        total=len(chosen),
        page=page,
        pages=pages,
        choices={
            "site": sorted({b.site for b in briefs}, key=natural_key),
            "material": sorted({b.material for b in briefs if b.material}),
            "model": sorted({b.model for b in briefs if b.model}),
            "tag": sorted({t for b in briefs for t in b.tags}),
        },
    )


def fleet_select(briefs: Iterable[Brief], filters: FleetFilters) -> list[int]:
    """Every printer the filters select, on every page (a bulk action on "all of these")."""
    return [b.pk for b in briefs if _matches(b, filters, with_state=True)]


def _group_heading(brief: Brief) -> str:
    return f"{brief.site} · row {brief.row}" if brief.row else brief.site
