"""Printer classes and job groups: the structure that keeps planning fast.

Printers with the same hard capabilities (site, model, nozzle, build volume, materials) are
interchangeable for eligibility, so eligibility is decided once per (job, class) in one numpy
pass instead of per (copy, printer). Jobs with the same set of eligible classes form a group.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from farm.scheduling.types import PlanOptions, PrinterSlot, WorkItem, incompatibility


@dataclass
class Index:
    class_of: list[int]  # printer position -> class
    class_members: list[list[int]]  # class -> printer positions
    class_site: list[str]
    class_model: list[str]
    eligible: np.ndarray  # (jobs, classes) bool
    group_of: np.ndarray  # (jobs,) int, -1 = no eligible class
    group_classes: list[list[int]]  # group -> its classes


def class_key(p: PrinterSlot, options: PlanOptions) -> tuple[object, ...]:
    key: tuple[object, ...] = (p.site, p.model, p.nozzle_mm, p.build_mm, p.materials, p.refused)
    if not options.allow_material_changes:
        key += (p.material, p.colour.lower())
    return key


def build_index(printers: list[PrinterSlot], work: list[WorkItem], options: PlanOptions) -> Index:
    keys: dict[tuple[object, ...], int] = {}
    class_of: list[int] = []
    members: list[list[int]] = []
    reps: list[PrinterSlot] = []
    for i, p in enumerate(printers):
        key = class_key(p, options)
        k = keys.get(key)
        if k is None:
            k = keys[key] = len(reps)
            reps.append(p)
            members.append([])
        class_of.append(k)
        members[k].append(i)

    eligible = eligibility(reps, work, options)
    group_of = np.full(len(work), -1, dtype=np.int64)
    group_classes: list[list[int]] = []
    placeable = eligible.any(axis=1) if len(reps) else np.zeros(len(work), dtype=bool)
    if placeable.any():
        packed = np.packbits(eligible[placeable], axis=1)
        rows, inverse = _unique_rows(packed)
        group_of[placeable] = inverse.reshape(-1)
        unpacked = np.unpackbits(rows, axis=1)[:, : len(reps)].astype(bool)
        group_classes = [np.nonzero(row)[0].tolist() for row in unpacked]
    return Index(
        class_of=class_of,
        class_members=members,
        class_site=[p.site for p in reps],
        class_model=[p.model for p in reps],
        eligible=eligible,
        group_of=group_of,
        group_classes=group_classes,
    )


def _unique_rows(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(packed, axis=0, return_inverse=True)` for rows of uint8.

    Up to 64 classes a row fits one big-endian 64-bit integer, whose order is the rows'
    byte order, so the groups come out numbered exactly as `np.unique` numbers them; it
    sorts the rows as opaque records instead, 0.1 s of a 5,000-printer plan's set-up.
    """
    n_bytes = packed.shape[1]
    if n_bytes > 8:
        return np.unique(packed, axis=0, return_inverse=True)
    wide = np.zeros((packed.shape[0], 8), dtype=np.uint8)
    wide[:, 8 - n_bytes :] = packed
    codes, inverse = np.unique(wide.view(">u8").ravel(), return_inverse=True)
    rows = codes.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - n_bytes :]
    return rows, inverse


def eligibility(reps: list[PrinterSlot], work: list[WorkItem], options: PlanOptions) -> np.ndarray:
    """(jobs, classes) bool: may job j ever print on class k. Vectorised over both."""
    n_jobs, n_classes = len(work), len(reps)
    if not n_jobs or not n_classes:
        return np.zeros((n_jobs, n_classes), dtype=bool)
    build = np.array([p.build_mm for p in reps], dtype=float)
    bx, by, bz = build[:, 0], build[:, 1], build[:, 2]
    size = np.array([w.size_mm for w in work], dtype=float)
    sx, sy, sz = size[:, :1], size[:, 1:2], size[:, 2:3]
    ok = (sz <= bz) & (((sx <= bx) & (sy <= by)) | ((sy <= bx) & (sx <= by)))

    nozzle = np.array([p.nozzle_mm for p in reps], dtype=float)
    need = np.array([np.nan if w.nozzle_mm is None else w.nozzle_mm for w in work])[:, None]
    ok &= np.isnan(need) | (np.abs(need - nozzle) <= 1e-6)

    sites = {s: i for i, s in enumerate(sorted({p.site for p in reps}))}
    class_site = np.array([sites[p.site] for p in reps])
    job_site = np.array([-1 if w.site is None else sites.get(w.site, -2) for w in work])[:, None]
    ok &= (job_site == -1) | (job_site == class_site)

    materials = {m: i for i, m in enumerate(sorted({w.material for w in work}))}
    job_material = np.array([materials[w.material] for w in work])
    can_print = np.array(
        [[not p.materials or m in p.materials for p in reps] for m in materials], dtype=bool
    )
    ok &= can_print[job_material]
    ok &= ~_refused(reps, work)
    if not options.allow_material_changes:
        loaded = {
            (m, c): i
            for i, (m, c) in enumerate(sorted({(p.material, p.colour.lower()) for p in reps}))
        }
        class_loaded_m = np.array([materials.get(p.material, -1) for p in reps])
        ok &= job_material[:, None] == class_loaded_m
        colours = sorted({c for _, c in loaded})
        code = {c: i for i, c in enumerate(colours)}
        class_colour = np.array([code[p.colour.lower()] for p in reps])
        job_colour = np.array([code.get(w.colour.lower(), -2) if w.colour else -1 for w in work])
        ok &= (job_colour[:, None] == -1) | (job_colour[:, None] == class_colour)
    return ok


def _refused(reps: list[PrinterSlot], work: list[WorkItem]) -> np.ndarray:
    """(jobs, classes) bool: an operator declined loading what job j needs on class k. Few
    printers carry a decline, so only their classes are looked at."""
    out = np.zeros((len(work), len(reps)), dtype=bool)
    declining = [k for k, p in enumerate(reps) if p.refused]
    if not declining:
        return out
    material = np.array([w.material for w in work], dtype=object)
    colour = np.array([w.colour.lower() for w in work], dtype=object)
    for k in declining:
        for m, c in reps[k].refused:
            out[:, k] |= (material == m) & ((colour == c) if c else True)
    return out


def why_unplaceable(reps: list[PrinterSlot], item: WorkItem, options: PlanOptions) -> str:
    """The most common reason the classes give for refusing `item`."""
    if not reps:
        return "there are no printers"
    reasons: Counter[str] = Counter()
    for p in reps:
        reason = incompatibility(p, item)
        if reason is None and not options.allow_material_changes:
            reason = f"needs {item.colour} {item.material} loaded".replace("  ", " ")
        reasons[reason or "no compatible printer"] += 1
    return reasons.most_common(1)[0][0]
