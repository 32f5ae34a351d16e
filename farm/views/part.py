"""The part on a job's page: the questions about it (scale? repair?) with their answers, and
the turntable of the oriented, packed plate, to see before confirming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from farm.models import Job
from slicing.turntable import FRAMES, SIZE, turntable_path


def job_turntable_file(job: Job) -> Path | None:
    if not job.thumbnail:
        return None
    path = turntable_path(Path(job.thumbnail.path))
    return path if path.is_file() else None  # slices cached before turntables have none


def part_context(job: Job) -> dict[str, Any]:
    """What the job page's part section (farm/_job_part.html) shows."""
    return {
        "questions": list(job.questions.select_related("answered_by")),
        "turntable": job_turntable_file(job) is not None,
        "turntable_frames": FRAMES,
        "turntable_size": SIZE,
    }
