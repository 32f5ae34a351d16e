"""The slice cache stays under its bound, least recently used first, and never loses the
G-code of work still to print (real files, real jobs, the real hourly cleanup task)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from farm.models import Job, Material
from farm.services.slice_cache import slice_cache, slice_cache_count, slice_cache_report
from farm.statuses import JobStatus
from farm.tasks import uploads_cleanup_task
from slicing.cache import SliceCache

MB = 1024 * 1024


def entry(cache: SliceCache, key: str, *, megabytes: float, used_hours_ago: float) -> Path:
    """A cache entry as prepare() leaves it: G-code, thumbnail, record (written last)."""
    gcode = cache.path(key, ".gcode")
    gcode.parent.mkdir(parents=True, exist_ok=True)
    with gcode.open("wb") as out:  # in pieces: one big bytes object, once freed, would raise
        for _ in range(int(megabytes * 16)):  # glibc's mmap threshold (see test_sweeps)
            out.write(b"G1 X1\n" * (MB // 16 // 6))
    cache.path(key, ".png").write_bytes(b"\x89PNG")
    cache.store(key, {"gcode_path": str(gcode)})
    when = time.time() - used_hours_ago * 3600
    os.utime(cache.path(key, ".json"), (when, when))
    return gcode


def job_using(owner: User, gcode: Path, status: str, media: Path) -> Job:
    job = Job(
        owner=owner, name="part", quantity=1, status=status, file_kind="mesh",
        material=Material.objects.get_or_create(name="PLA")[0],
    )  # fmt: skip
    job.file.name = "uploads/part.stl"
    job.gcode.name = str(gcode.relative_to(media))
    job.thumbnail.name = str(gcode.with_suffix(".png").relative_to(media))
    job.save()
    return job


def test_the_hourly_cleanup_evicts_the_least_recently_used_but_not_work_to_print(
    settings: Any, alice: User
) -> None:
    settings.SLICING_CACHE_MAX_MB = 5
    media = Path(settings.MEDIA_ROOT)
    cache = slice_cache()
    oldest = entry(cache, "aa" + "1" * 38, megabytes=2, used_hours_ago=50)
    queued = entry(cache, "ab" + "2" * 38, megabytes=2, used_hours_ago=40)
    done = entry(cache, "ac" + "3" * 38, megabytes=2, used_hours_ago=30)
    recent = entry(cache, "ad" + "4" * 38, megabytes=2, used_hours_ago=2)
    job_using(alice, queued, JobStatus.QUEUED, media)
    job_using(alice, done, JobStatus.DONE, media)
    assert cache.usage().size_bytes > 8 * MB

    uploads_cleanup_task()

    assert not oldest.exists() and not cache.path(oldest.stem, ".json").exists()
    assert queued.exists()  # a queued job's G-code is never evicted, however old
    assert not done.exists()  # a finished job's is, least recently used after the oldest
    assert done.with_suffix(".png").exists()  # its page still shows the part
    assert recent.exists()
    assert cache.usage().size_bytes <= 5 * MB


def test_an_entry_used_within_the_hour_stays_even_over_the_bound(settings: Any, db: Any) -> None:
    settings.SLICING_CACHE_MAX_MB = 1
    cache = slice_cache()
    just_used = entry(cache, "ba" + "5" * 38, megabytes=2, used_hours_ago=0.1)
    uploads_cleanup_task()
    assert just_used.exists()


def test_a_hit_makes_an_entry_the_most_recently_used(tmp_path: Path) -> None:
    cache = SliceCache(tmp_path)
    first = entry(cache, "ca" + "6" * 38, megabytes=1, used_hours_ago=10)
    second = entry(cache, "cb" + "7" * 38, megabytes=1, used_hours_ago=5)
    assert cache.load("ca" + "6" * 38) is not None  # a hit on the older one
    result = cache.trim(int(1.5 * MB))
    assert result.evicted == 1
    assert first.exists() and not second.exists()


def test_hits_and_size_are_reported(
    settings: Any, capsys: pytest.CaptureFixture[str], db: Any
) -> None:
    entry(slice_cache(), "da" + "8" * 38, megabytes=1, used_hours_ago=1)
    for hit in (True, True, False):
        slice_cache_count(hit=hit)
    report = slice_cache_report()
    assert report["entries"] == 1 and report["size_mb"] == pytest.approx(1.0, abs=0.1)
    assert (report["hits"], report["misses"], report["hit_rate"]) == (2, 1, 0.667)
    call_command("farm_status")
    assert "Slice cache: 1 entries, 1 of 20,480 MB; 2 hits, 1 misses (67% hit)" in (
        capsys.readouterr().out
    )
