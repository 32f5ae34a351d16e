"""Where to pick up a finished job: the pick-up location of each site that printed it
(Site.pickup_location, e.g. "Shelf B, building 4 reception"), for its page and its e-mail."""

from __future__ import annotations

from farm.models import Job, PrintRun
from farm.statuses import RUN_PRINTED


def job_pickup_places(job: Job) -> list[tuple[str, str]]:
    """(site name, pick-up location) of each site where copies of the job were printed, for
    the sites that say where to pick up (Site.pickup_location)."""
    rows = (
        PrintRun.objects.filter(job=job, status__in=RUN_PRINTED)
        .exclude(printer__site__pickup_location="")
        .values_list("printer__site__name", "printer__site__pickup_location")
        .distinct()
        .order_by("printer__site__name")
    )
    return [(name, place) for name, place in rows]


def pickup_sentence(job: Job) -> str:
    """ "Pick it up at: Shelf B (Berlin)." or "" when no site that printed it says where."""
    places = job_pickup_places(job)
    if not places:
        return ""
    return "Pick it up at: " + "; ".join(f"{place} ({site})" for site, place in places) + "."
