"""`manage.py print_file`: a file goes through the farm's dispatch path and a run is recorded."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from farm.models import Material, Printer, PrintRun, Site
from printers.firmware_sim.gcode_gen import realistic_gcode
from printers.states import DeviceState
from tests.printers.octoprint_server import OctoPrintServer


@pytest.fixture
def gcode(tmp_path: Path) -> Path:
    path = tmp_path / "bracket.gcode"
    path.write_text(realistic_gcode(400))
    return path


def print_file(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("print_file", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_it_prints_on_a_simulated_printer_and_records_the_run(
    db: None, admin_user: User, make_printer: Callable[..., Printer], gcode: Path
) -> None:
    make_printer("sim-1")
    result = print_file(str(gcode), "--printer", "sim-1", "--wait")
    run = PrintRun.objects.get(pk=result["run"])
    assert result["status"] == run.status == "awaiting_removal"
    assert run.job.name == "bracket.gcode"
    assert result["file"] == run.job_name and run.job_name.startswith(f"farm-run-{run.pk}-")
    assert result["duration_s"] is not None


def test_without_wait_it_reports_the_run_started(
    db: None, admin_user: User, make_printer: Callable[..., Printer], gcode: Path
) -> None:
    make_printer("sim-1", connection_settings={"speedup": 1})
    result = print_file(str(gcode), "--printer", "sim-1")
    assert result["status"] == "printing"


def test_an_unknown_printer_is_refused(db: None, admin_user: User, gcode: Path) -> None:
    with pytest.raises(CommandError, match="no printer named"):
        print_file(str(gcode), "--printer", "nope")


def test_a_busy_printer_is_refused(
    db: None, admin_user: User, make_printer: Callable[..., Printer], gcode: Path
) -> None:
    make_printer("sim-1", connection_settings={"speedup": 1})
    print_file(str(gcode), "--printer", "sim-1")
    with pytest.raises(CommandError, match="busy"):
        print_file(str(gcode), "--printer", "sim-1")


def test_a_printer_that_does_not_answer_is_refused_at_once_with_the_reason(
    db: None, admin_user: User, make_printer: Callable[..., Printer], gcode: Path
) -> None:
    from printers.models import SimulatedDevice

    printer = make_printer("sim-1", connection_settings={"speedup": 1})
    SimulatedDevice.objects.create(device_id=printer.device_id, online=False)
    with pytest.raises(CommandError, match="sim-1 cannot take a print now: it is offline"):
        print_file(str(gcode), "--printer", "sim-1", "--wait")
    assert not PrintRun.objects.exists()  # nothing waits in a queue nobody serves


@pytest.mark.integration
def test_it_prints_on_a_real_octoprint(
    db: None,
    admin_user: User,
    site: Site,
    pla: Material,
    octoprint: OctoPrintServer,
    tmp_path: Path,
) -> None:
    from farm.services.printer_setup import printer_add

    printer, _ = printer_add(
        name="mk4-07",
        site=site,
        kind="octoprint",
        settings={"url": octoprint.url},
        secret=octoprint.api_key,
        model="MK4",
        material=pla,
    )
    Printer = type(printer)
    Printer.objects.filter(pk=printer.pk).update(state=DeviceState.READY)
    path = tmp_path / "small.gcode"
    # No heating (the virtual printer really waits for M109/M190) and short fast moves.
    moves = "".join(f"G1 X{100 + i % 5} Y{100 + i % 3} E{0.05 * i:.2f} F6000\n" for i in range(40))
    path.write_text("G28\nG92 E0\nG1 Z0.2 F3000\n" + moves)
    result = print_file(str(path), "--printer", "mk4-07", "--wait", "--timeout", "120")
    run = PrintRun.objects.get(pk=result["run"])
    assert result["status"] == run.status == "awaiting_removal", result
    assert result["file"] == run.job_name


@pytest.mark.integration
def test_a_prusaslicer_gcode_prints_on_a_real_octoprint_with_print_file_wait(
    db: None,
    admin_user: User,
    site: Site,
    pla: Material,
    octoprint: OctoPrintServer,
    tmp_path: Path,
) -> None:
    """The README's measured run: a real slicer's G-code (it heats and waits, as a real print
    does) through `print_file --wait` to a real OctoPrint and its virtual printer."""
    import trimesh

    from farm.services.printer_setup import printer_add
    from slicing import prusaslicer
    from slicing.prepare import prepare
    from slicing.profile import PrintProfile
    from tests.printers.serial_helpers import require_prusaslicer

    require_prusaslicer(prusaslicer.executable())
    mesh = tmp_path / "plate.stl"
    trimesh.creation.box(extents=(20.0, 20.0, 3.0)).export(mesh)
    prepared = prepare(mesh, "mesh", PrintProfile(), out_dir=tmp_path, engine="prusaslicer")
    assert prepared.gcode_path is not None and prepared.engine.startswith("PrusaSlicer")
    printer_add(
        name="mk4-ps",
        site=site,
        kind="octoprint",
        settings={"url": octoprint.url},
        secret=octoprint.api_key,
        model="MK4",
        material=pla,
    )
    result = print_file(str(prepared.gcode_path), "--printer", "mk4-ps", "--wait")
    assert result["status"] == "awaiting_removal", result
    assert result["duration_s"] and result["duration_s"] > 5  # it heated and printed
    print(f"PrusaSlicer G-code on a real OctoPrint: {result['duration_s']:.1f} s")
