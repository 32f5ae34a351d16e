"""Bulk submission: many jobs from one CSV, each distinct part prepared once.

A farm's order is thousands of jobs of a few parts. Slicing each job's file again would take
hours, and the result would be the same G-code: so each distinct file content and material is
prepared once (once more for a quantity the plate of copies it got does not divide), through
the real path (`job_prepare`, as a slicing worker runs it), and every other job of that part is
created in bulk as prepared (QUEUED), sharing the stored file, the G-code, the estimates and the
sizes.

All or nothing: every row is checked before anything is written, and every bad row is
reported at once. The jobs prepared first (one per part) wait as QUOTED, which nothing prints,
until the whole import is known to be good; when a part cannot be prepared they are deleted
again and its rows are reported. The rest is written in one transaction.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from farm.models import Event, Job, Material, Site
from farm.models.event import EventKind
from farm.models.job import FileKind, Priority
from farm.services.enqueue import enqueue_schedule_pass
from farm.services.events import event_record
from farm.services.preparation import job_prepare
from farm.services.submission import job_validate, upload_limit_bytes, upload_too_large_message
from farm.statuses import JobStatus, check_job_transition
from slicing.errors import IntakeError
from slicing.intake import sniff

COLUMNS = ("file", "quantity", "material", "colour", "priority", "due", "site", "needed_at")
REQUIRED = ("file", "quantity", "material")
# What preparing a job's file sets on it (`job_accept_prepared`): copied to the jobs sharing it.
PREPARED_FIELDS = (
    "estimate_source",
    "seconds_per_copy",
    "grams_per_copy",
    "size_x_mm",
    "size_y_mm",
    "size_z_mm",
    "nozzle_mm",
    "engine",
    "copies_per_plate",
    "layers",
    "engine_reason",
    "gcode",
    "thumbnail",
)
BATCH = 1000  # rows per INSERT


@dataclass(frozen=True)
class JobsImported:
    """What an import did; `errors` ("line 7: quantity: ...") means nothing was saved."""

    job_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    prepared: int = 0  # files sliced or analysed (one per part, material and plate)


@dataclass(frozen=True)
class _File:
    path: Path
    sha256: str
    size: int
    kind: str  # FileKind
    suffix: str


@dataclass(frozen=True)
class _Row:
    line: int
    file: _File
    quantity: int
    material: Material
    colour: str
    priority: int
    due: datetime.datetime | None
    site: Site | None
    needed_at: Site | None


def jobs_import(*, owner: User, csv_file: TextIO, files_root: Path) -> JobsImported:
    """Create one job per CSV row (columns: COLUMNS; a header row names them).

    File paths are relative to `files_root` (or absolute) and must lie inside it: a row cannot
    make the farm read a file outside the folder it was given.
    """
    rows, errors = _read(csv_file, files_root.resolve())
    if errors:
        return JobsImported(errors=errors)
    groups: dict[tuple[str, int], list[_Row]] = defaultdict(list)
    for row in rows:
        groups[(row.file.sha256, row.material.pk)].append(row)
    reps: list[Job] = []
    shared: list[tuple[_Row, Job]] = []
    stored: dict[str, str] = {}  # file content -> its stored name (one copy per content)
    try:
        for group in groups.values():
            errors += _prepare_group(owner, group, stored, reps, shared)
        if errors:
            _forget(reps)
            return JobsImported(errors=sorted(errors, key=_line_of))
        job_ids = _create(owner, reps, shared)
    except BaseException:
        _forget(reps)
        raise
    return JobsImported(job_ids=job_ids, prepared=len(reps))


def _line_of(error: str) -> int:
    return int(error.split(":", 1)[0].removeprefix("line "))


def _read(csv_file: TextIO, root: Path) -> tuple[list[_Row], list[str]]:
    reader = csv.DictReader(csv_file)
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = sorted(set(header) - set(COLUMNS))
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing:
        wrong = [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        wrong += [f"missing column(s) {', '.join(missing)}"] if missing else []
        return [], [f"line 1: {'; '.join(wrong)} (columns: {', '.join(COLUMNS)})"]
    materials = {m.name.lower(): m for m in Material.objects.all()}
    sites = {s.slug: s for s in Site.objects.all()} | {
        s.name.lower(): s for s in Site.objects.all()
    }
    files: dict[Path, _File | str] = {}
    rules: dict[tuple[int, datetime.datetime | None], dict[str, str]] = {}
    rows: list[_Row] = []
    errors: list[str] = []
    for line, raw in _lines(reader):
        values = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        problems: dict[str, str] = {}
        file = _file(values["file"], root, files)
        if isinstance(file, str):
            problems["file"] = file
        quantity = _quantity(values["quantity"], problems)
        due = _due(values.get("due", ""), problems)
        for column, message in _order_problems(quantity, due, rules).items():
            problems.setdefault(column, message)
        material = materials.get(values["material"].lower())
        if material is None:
            problems["material"] = f"no material {values['material']!r}"
        colour = values.get("colour", "")
        if len(colour) > 50:
            problems["colour"] = "at most 50 characters"
        priority = _priority(values.get("priority", ""), problems)
        site = _site(values.get("site", ""), sites, "site", problems)
        needed_at = _site(values.get("needed_at", ""), sites, "needed_at", problems)
        if problems:
            errors.append(f"line {line}: " + "; ".join(f"{k}: {v}" for k, v in problems.items()))
            continue
        assert isinstance(file, _File) and material is not None and quantity is not None
        rows.append(_Row(line, file, quantity, material, colour, priority, due, site, needed_at))
    if not rows and not errors:
        errors.append("line 2: the file has no rows")
    return rows, errors


def _lines(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for raw in reader:
        if any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            yield reader.line_num, raw


def _file(value: str, root: Path, seen: dict[Path, _File | str]) -> _File | str:
    """The checked file a row names, or what is wrong with it (each file is read once)."""
    if not value:
        return "name a mesh (STL, OBJ, 3MF, PLY) or G-code file"
    path = (root / value).resolve()
    if path in seen:
        return seen[path]
    if not path.is_relative_to(root):
        seen[path] = f"{value!r} is outside {root}"
    elif not path.is_file():
        seen[path] = f"no file {value!r} in {root}"
    elif path.stat().st_size > upload_limit_bytes():
        seen[path] = upload_too_large_message()
    else:
        seen[path] = _checked(path)
    return seen[path]


def _checked(path: Path) -> _File | str:
    size = path.stat().st_size
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            sniffed = sniff(path.name, stream, size)
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except IntakeError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read {path.name}: {exc.strerror}"
    kind = FileKind.GCODE if sniffed.kind == "gcode" else FileKind.MESH
    return _File(path, digest.hexdigest(), size, kind, sniffed.suffix)


def _quantity(value: str, problems: dict[str, str]) -> int | None:
    try:
        return int(value)
    except ValueError:
        problems["quantity"] = f"{value!r} is not a whole number"
        return None


def _due(value: str, problems: dict[str, str]) -> datetime.datetime | None:
    """An ISO date (the end of that day, in the farm's time zone) or date and time."""
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value) if len(value) == 10 else None
        if day is None:
            problems["due"] = f"{value!r} is not a date (2026-12-31) or date and time"
            return None
        moment = datetime.datetime.combine(day, datetime.time(23, 59, 59))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _order_problems(
    quantity: int | None,
    due: datetime.datetime | None,
    seen: dict[tuple[int, datetime.datetime | None], dict[str, str]],
) -> dict[str, str]:
    """The submission form's own rules and words for quantity and due date (`job_validate`;
    without a file it reports the file too, which is not ours to say here)."""
    if quantity is None:
        return {}
    if (quantity, due) not in seen:
        try:
            job_validate(upload=None, quantity=quantity, due=due)
            seen[(quantity, due)] = {}
        except ValidationError as exc:
            seen[(quantity, due)] = {
                k: "; ".join(v) for k, v in exc.message_dict.items() if k != "file"
            }
    return seen[(quantity, due)]


def _priority(value: str, problems: dict[str, str]) -> int:
    if not value:
        return Priority.NORMAL
    by_name = {p.label.lower(): p.value for p in Priority} | {
        p.name.lower(): p.value for p in Priority
    }
    if value.lower() in by_name:
        return by_name[value.lower()]
    try:
        number = int(value)
    except ValueError:
        number = None
    if number not in Priority.values:
        names = ", ".join(f"{p.label.lower()} ({p.value})" for p in Priority)
        problems["priority"] = f"{value!r} is not a priority: {names}"
        return Priority.NORMAL
    return number


def _site(value: str, sites: dict[str, Site], column: str, problems: dict[str, str]) -> Site | None:
    if not value:
        return None
    site = sites.get(value) or sites.get(value.lower())
    if site is None:
        problems[column] = f"no site {value!r}"
    return site


def _prepare_group(
    owner: User,
    rows: list[_Row],
    stored: dict[str, str],
    reps: list[Job],
    shared: list[tuple[_Row, Job]],
) -> list[str]:
    """Prepare the jobs of one part and material: the largest quantity first; every job whose
    quantity the prepared plate divides shares its G-code (no run prints extra copies), the
    others are prepared again with the next largest quantity."""
    waiting = sorted(rows, key=lambda r: (-r.quantity, r.line))
    while waiting:
        first, *others = waiting
        rep = _rep_create(owner, first, stored)
        reps.append(rep)
        job_prepare(job_id=rep.pk)
        rep.refresh_from_db()
        if rep.status != JobStatus.QUOTED:
            why = rep.status_reason or f"the file was not prepared (the job is {rep.status})"
            return [f"line {r.line}: file: {why}" for r in waiting]
        plate = rep.copies_per_plate
        shared += [(r, rep) for r in others if r.quantity % plate == 0]
        waiting = [r for r in others if r.quantity % plate != 0]
    return []


def _job(owner: User, row: _Row, **fields: object) -> Job:
    return Job(
        owner=owner,
        name=row.file.path.name[:200],
        file_kind=row.file.kind,
        file_sha256=row.file.sha256,
        file_bytes=row.file.size,
        quantity=row.quantity,
        material=row.material,
        colour=row.colour,
        priority=row.priority,
        due=row.due,
        site=row.site,
        needed_at=row.needed_at,
        **fields,
    )


def _rep_create(owner: User, row: _Row, stored: dict[str, str]) -> Job:
    """A job prepared through the real path; QUOTED (never printed) until the import is good."""
    job = _job(owner, row, confirm_required=True)
    with transaction.atomic():
        if row.file.sha256 in stored:
            job.file.name = stored[row.file.sha256]
        else:
            with row.file.path.open("rb") as stream:
                job.file.save(f"upload.{row.file.suffix}", File(stream), save=False)
            stored[row.file.sha256] = job.file.name
        job.save()
        event_record(EventKind.JOB_SUBMITTED, job=job, actor=owner, quantity=row.quantity)
    return job


def _create(owner: User, reps: list[Job], shared: list[tuple[_Row, Job]]) -> list[int]:
    """Queue the prepared jobs and create the others as prepared, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        check_job_transition(JobStatus.QUOTED, JobStatus.QUEUED)
        Job.objects.filter(pk__in=[r.pk for r in reps]).update(
            status=JobStatus.QUEUED, confirm_required=False, confirmed_at=now
        )
        jobs: list[Job] = []
        for row, rep in shared:
            job = _job(owner, row, status=JobStatus.QUEUED)
            job.file.name = rep.file.name
            for name in PREPARED_FIELDS:
                setattr(job, name, getattr(rep, name))
            jobs.append(job)
        created = Job.objects.bulk_create(jobs, batch_size=BATCH)
        pairs = [(job, rep) for job, (_, rep) in zip(created, shared, strict=True)]
        Event.objects.bulk_create(_events(owner, reps, pairs), batch_size=BATCH)
        enqueue_schedule_pass()
    return [r.pk for r in reps] + [j.pk for j in created]


def _events(owner: User, reps: list[Job], shared: Iterable[tuple[Job, Job]]) -> Iterator[Event]:
    """The prepared jobs are queued; each other job was submitted already prepared (one event
    each, naming the job whose file it shares: its preparation is in that job's history)."""
    for rep in reps:
        yield Event(kind=EventKind.JOB_QUEUED, job=rep, message="imported")
    for job, rep in shared:
        yield Event(
            kind=EventKind.JOB_SUBMITTED,
            job=job,
            actor=owner,
            message=f"imported, sharing the file prepared for job #{rep.pk}",
            data={"quantity": job.quantity, "prepared_as": rep.pk},
        )


def _forget(reps: list[Job]) -> None:
    """Undo the jobs prepared for an import that is not saved (QUOTED: none has printed)."""
    unprinted = (JobStatus.SUBMITTED, JobStatus.QUOTED, JobStatus.REJECTED)
    Job.objects.filter(pk__in=[r.pk for r in reps], status__in=unprinted).delete()
    for name in {rep.file.name for rep in reps if rep.file}:
        reps[0].file.storage.delete(name)
