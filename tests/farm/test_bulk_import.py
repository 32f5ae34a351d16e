"""Bulk submission from a CSV: all or nothing, every bad row listed, each part prepared once.

Integration-marked so CI runs them again on PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from farm.models import Event, Job, Site
from farm.services import preparation
from farm.services.bulk import JobsImported, jobs_import
from farm.services.scheduling import schedule_pass
from farm.statuses import JobStatus
from tests.conftest import CUBE_STL

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HEADER = "file,quantity,material,colour,priority,due,site,needed_at\n"


@pytest.fixture
def parts(tmp_path: Path) -> Path:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "cube.stl").write_bytes(CUBE_STL)
    (folder / "same-cube.stl").write_bytes(CUBE_STL)  # the same part under another name
    big = CUBE_STL.replace(b" 20", b" 900")  # a 900 mm cube: no printer takes it
    (folder / "huge.stl").write_bytes(big)
    (folder / "notes.txt").write_text("not a part")
    return folder


@pytest.fixture
def slices(monkeypatch: Any) -> list[int]:
    """Counts the files really sliced or analysed (the real `prepare` runs each time)."""
    calls: list[int] = []
    real = preparation.prepare

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("copies", 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(preparation, "prepare", counted)
    return calls


def run_import(owner: Any, parts: Path, rows: str) -> JobsImported:
    return jobs_import(owner=owner, csv_file=io.StringIO(HEADER + rows), files_root=parts)


def test_jobs_of_one_part_share_one_prepared_file(
    alice: Any, pla: Any, make_printer: Any, parts: Path, slices: list[int], settings: Any
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 1
    make_printer("p1")
    rows = (
        "".join("cube.stl,1,PLA,black,,,,\n" for _ in range(5)) + "same-cube.stl,1,pla,,rush,,,\n"
    )
    result = run_import(alice, parts, rows)
    assert result.errors == []
    assert (len(result.job_ids), result.prepared) == (6, 1)
    assert len(slices) == 1  # one slice for six jobs of one part
    jobs = Job.objects.filter(pk__in=result.job_ids)
    assert set(jobs.values_list("status", flat=True)) == {JobStatus.QUEUED}
    assert len(set(jobs.values_list("gcode", "seconds_per_copy", "size_x_mm", "file"))) == 1
    assert jobs.get(name="same-cube.stl").priority == 2
    shared = jobs.exclude(pk=result.job_ids[0]).first()
    assert shared is not None
    submitted = shared.events.get()  # its preparation is the first job's
    assert (submitted.kind, submitted.data["prepared_as"]) == ("job.submitted", result.job_ids[0])
    assert schedule_pass().runs_started == 1  # imported jobs print like any other


def test_a_quantity_the_plate_does_not_divide_gets_its_own_preparation(
    alice: Any, pla: Any, make_printer: Any, parts: Path, slices: list[int], settings: Any
) -> None:
    settings.FARM_MAX_COPIES_PER_PLATE = 4
    make_printer("p1")
    result = run_import(
        alice, parts, "cube.stl,4,PLA,,,,,\ncube.stl,8,PLA,,,,,\ncube.stl,3,PLA,,,,,\n"
    )
    assert result.errors == [] and result.prepared == 2
    plates = dict(Job.objects.values_list("quantity", "copies_per_plate"))
    assert plates == {8: 4, 4: 4, 3: 3}  # no run prints more copies than its job asked for


def test_an_import_with_bad_rows_saves_nothing_and_lists_every_bad_row(
    alice: Any, pla: Any, make_printer: Any, parts: Path, slices: list[int]
) -> None:
    make_printer("p1")
    Site.objects.create(name="Lyon", slug="lyon")
    rows = (
        "cube.stl,2,PLA,,,,lyon,\n"  # good
        "cube.stl,0,PLA,,,,,\n"
        "missing.stl,1,PLA,,,,,\n"
        "../../etc/passwd,1,PLA,,,,,\n"
        "notes.txt,1,PLA,,,,,\n"
        "cube.stl,1,Nylon,,,,,\n"
        "cube.stl,1,PLA,,urgent,,,\n"
        "cube.stl,1,PLA,,,2001-01-01,,\n"
        "cube.stl,1,PLA,,,tomorrow,,\n"
        "cube.stl,1,PLA,,,,paris,nowhere\n"
    )
    result = run_import(alice, parts, rows)
    assert result.job_ids == []
    lines = [int(e.split(":")[0].removeprefix("line ")) for e in result.errors]
    assert lines == list(range(3, 12))  # every bad row, none of the good one
    text = "\n".join(result.errors)
    for words in (
        "quantity: Ask for at least one copy",
        "no file 'missing.stl'",
        "is outside",
        "is not a mesh or G-code file",
        "material: no material 'Nylon'",
        "'urgent' is not a priority",
        "The due date is in the past",
        "'tomorrow' is not a date",
        "site: no site 'paris'; needed_at: no site 'nowhere'",
    ):
        assert words in text
    assert (Job.objects.count(), Event.objects.count(), len(slices)) == (0, 0, 0)


def test_a_part_that_cannot_be_prepared_fails_the_whole_import(
    alice: Any, pla: Any, make_printer: Any, parts: Path, settings: Any
) -> None:
    make_printer("p1")
    result = run_import(
        alice, parts, "cube.stl,1,PLA,,,,,\nhuge.stl,1,PLA,,,,,\nhuge.stl,2,PLA,,,,,\n"
    )
    assert result.job_ids == []
    assert [e.split(":")[0] for e in result.errors] == ["line 3", "line 4"]
    assert "does not fit" in result.errors[0] or "too large" in result.errors[0].lower()
    assert Job.objects.count() == 0  # the jobs prepared on the way were removed again
    uploads = Path(settings.MEDIA_ROOT) / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_the_command_imports_a_csv_and_reports_as_json(
    alice: Any, pla: Any, make_printer: Any, parts: Path
) -> None:
    make_printer("p1")
    csv_path = parts / "order.csv"
    csv_path.write_text(HEADER + "cube.stl,1,PLA,,high,2099-12-31,,\n" * 3)
    out = io.StringIO()
    call_command("import_jobs", str(csv_path), "--owner", "alice", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["jobs"], report["prepared"], report["errors"]) == (3, 1, [])
    assert Job.objects.filter(owner=alice, priority=1, due__year=2099).count() == 3

    csv_path.write_text(HEADER + "cube.stl,x,PLA,,,,,\n")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command(
            "import_jobs",
            str(csv_path),
            "--owner",
            "alice",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert Job.objects.count() == 3
