"""The farm's slice cache (MEDIA_ROOT/gcode): kept under SLICING_CACHE_MAX_MB, least recently
used first, never evicting the G-code of work still to print; its hits counted.

A job refers to its G-code and thumbnail in the cache (a copy of the same part shares them),
so the farm, not the slicing package, decides what may go: an entry stays while a job that
is not finished (submitted, quoted, queued, printing) uses its G-code; a finished job's
thumbnail stays (its page shows it) when the rest of its entry goes. A finished job whose
G-code was evicted is sliced again if it is ever submitted again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from farm.models import Job
from farm.statuses import JobStatus
from slicing.cache import SliceCache, TrimResult
from slicing.limits import MB

HITS, MISSES = "slice-cache:hits", "slice-cache:misses"
FINISHED = (JobStatus.DONE, JobStatus.REJECTED, JobStatus.CANCELLED)


def slice_cache() -> SliceCache:
    return SliceCache(Path(settings.MEDIA_ROOT) / "gcode")


def slice_cache_count(*, hit: bool) -> None:
    """Count one look-up of a mesh's slice (shared by every worker through the cache)."""
    key = HITS if hit else MISSES
    cache.add(key, 0, timeout=None)
    try:
        cache.incr(key)
    except ValueError:  # evicted between add and incr: count from here
        cache.set(key, 1, timeout=None)


def slice_cache_trim() -> TrimResult:
    media = Path(settings.MEDIA_ROOT)
    open_jobs = Job.objects.exclude(status__in=FINISHED).exclude(gcode="")
    pinned = [media / name for name in open_jobs.values_list("gcode", flat=True)]
    shown = Job.objects.exclude(thumbnail="").filter(~Q(status=JobStatus.REJECTED))
    kept = [media / name for name in shown.values_list("thumbnail", flat=True)]
    return slice_cache().trim(settings.SLICING_CACHE_MAX_MB * MB, pinned=pinned, kept=kept)


def slice_cache_report() -> dict[str, Any]:
    usage = slice_cache().usage()
    hits, misses = int(cache.get(HITS) or 0), int(cache.get(MISSES) or 0)
    looked_up = hits + misses
    return {
        "entries": usage.entries,
        "size_mb": round(usage.size_bytes / MB, 1),
        "max_mb": settings.SLICING_CACHE_MAX_MB,
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / looked_up, 3) if looked_up else None,
    }
