"""Spoolman sync (optional, FARM_SPOOLMAN_URL): Spoolman keeps the inventory, the farm
reports what its runs used.

One sync pushes each run's use not yet reported (PUT /api/v1/spool/<id>/use, claimed with a
conditional UPDATE so two syncs never report one use twice; a failed request un-claims it),
then reads every spool (GET /api/v1/spool) and brings the farm's copy in line: weight left,
archived, location (a spool loaded on a printer keeps the printer as its place). Spools of a
material the farm does not know are skipped and counted: a material is an admin's decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from farm.models import Spool, SpoolUse
from farm.services.spools import material_for_name

log = logging.getLogger(__name__)

TIMEOUT = 10.0


class SpoolmanError(Exception):
    """Spoolman could not be reached or said no."""


@dataclass
class SyncResult:
    pushed: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0  # spools of a material the farm does not have


def _request(method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = requests.request(method, url, timeout=TIMEOUT, **kwargs)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise SpoolmanError(f"{method} {url}: {exc}") from exc
    return response.json() if response.content else None


def _push_uses(base_url: str) -> int:
    pushed = 0
    pending = SpoolUse.objects.filter(
        spoolman_pushed_at=None, spool__spoolman_id__isnull=False
    ).select_related("spool")
    for use in pending[:1000]:
        if (
            SpoolUse.objects.filter(pk=use.pk, spoolman_pushed_at=None).update(
                spoolman_pushed_at=timezone.now()
            )
            != 1
        ):
            continue  # another sync reported it
        try:
            _request(
                "PUT",
                f"{base_url}/api/v1/spool/{use.spool.spoolman_id}/use",
                json={"use_weight": round(use.grams, 3)},
            )
        except SpoolmanError:
            SpoolUse.objects.filter(pk=use.pk).update(spoolman_pushed_at=None)
            raise
        pushed += 1
    return pushed


def spoolman_sync(*, base_url: str) -> SyncResult:
    result = SyncResult(pushed=_push_uses(base_url))
    remote = _request("GET", f"{base_url}/api/v1/spool")
    if not isinstance(remote, list):
        raise SpoolmanError("GET /api/v1/spool did not answer a list")
    for item in remote:
        filament = item.get("filament") or {}
        material = material_for_name(str(filament.get("material") or ""))
        if material is None:
            result.skipped += 1
            continue
        # What Spoolman has not heard of yet (a push failed) still counts against its weight.
        unpushed = (
            SpoolUse.objects.filter(
                spool__spoolman_id=item["id"], spoolman_pushed_at=None
            ).aggregate(g=Sum("grams"))["g"]
            or 0.0
        )
        remaining = float(item.get("remaining_weight") or 0.0) - unpushed
        initial = float(item.get("initial_weight") or filament.get("weight") or remaining)
        with transaction.atomic():
            spool = Spool.objects.select_for_update().filter(spoolman_id=item["id"]).first()
            if spool is None:
                vendor = (filament.get("vendor") or {}).get("name") or ""
                Spool.objects.create(
                    spoolman_id=item["id"],
                    material=material,
                    colour=str(filament.get("name") or filament.get("color_hex") or "")[:50],
                    vendor=str(vendor)[:100],
                    initial_g=initial,
                    remaining_g=remaining,
                    location=str(item.get("location") or "")[:100],
                    archived=bool(item.get("archived")),
                )
                result.created += 1
                continue
            spool.remaining_g = remaining
            spool.initial_g = initial
            spool.archived = bool(item.get("archived"))
            if spool.printer_id is None:
                spool.location = str(item.get("location") or "")[:100]
            spool.save(
                update_fields=["remaining_g", "initial_g", "archived", "location", "updated_at"]
            )
            result.updated += 1
    log.info("spoolman sync: %s", result)
    return result
