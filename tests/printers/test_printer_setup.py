"""Adding printers: verified on save, the API key encrypted and shown only masked."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from farm.models import Printer, Site
from farm.services.printer_setup import printer_add, printers_import_csv
from printers.firmware_sim.model import MarlinModel
from printers.firmware_sim.pty_runner import PtyFirmware
from printers.secrets import decrypt
from tests.printers.bad_http import bad_server
from tests.printers.octoprint_server import OctoPrintServer


def test_a_serial_printer_is_verified_by_m115(db: None, site: Site, boards: PtyFirmware) -> None:
    path = boards.add_port("ttyACM0", MarlinModel())
    printer, checked = printer_add(
        name="ender-1",
        site=site,
        kind="serial",
        settings={"port": path, "baud": 115200},
        model="Ender 3",
    )
    assert checked is not None and checked.firmware.startswith("Marlin")
    assert "AUTOREPORT_TEMP" in checked.summary
    assert printer.connection_settings == {"port": path, "baud": 115200}


def test_a_serial_port_that_is_not_there_is_refused(db: None, site: Site, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not there"):
        printer_add(
            name="ghost", site=site, kind="serial", settings={"port": str(tmp_path / "ttyUSB9")}
        )
    assert not Printer.objects.exists()


def test_it_can_save_without_verifying(db: None, site: Site) -> None:
    printer, checked = printer_add(
        name="mk4",
        site=site,
        kind="octoprint",
        settings={"url": "http://10.0.0.7"},
        secret="K" * 32,
        verify=False,
    )
    assert checked is None
    assert "api_key" not in printer.connection_settings
    assert decrypt(printer.secret_encrypted) == "K" * 32


def test_an_octoprint_printer_needs_a_key_and_a_url(db: None, site: Site) -> None:
    with pytest.raises(ValidationError, match="API key"):
        printer_add(
            name="mk4", site=site, kind="octoprint", settings={"url": "http://x"}, verify=False
        )
    with pytest.raises(ValidationError, match="url"):
        printer_add(name="mk4", site=site, kind="octoprint", settings={}, secret="k", verify=False)


CSV = """name,site,kind,model,url,api_key,port,baud
sim-a,berlin,simulated,MK4,,,,
sim-b,Berlin,simulated,MK4,,,,
"""


def test_a_csv_imports_every_printer(db: None, site: Site) -> None:
    result = printers_import_csv(text=CSV)
    assert result.errors == [] and result.created == ["sim-a", "sim-b"]
    assert Printer.objects.count() == 2


def test_a_csv_with_a_bad_row_imports_nothing_and_says_why(db: None, site: Site) -> None:
    bad = CSV + "mk4-7,nowhere,octoprint,MK4,http://x,k,,\nmk4-8,berlin,octoprint,MK4,,k,,\n"
    result = printers_import_csv(text=bad)
    assert result.created == []
    assert result.errors == [
        "line 4 (mk4-7): no site 'nowhere'",
        "line 5 (mk4-8): an OctoPrint printer needs its url, e.g. http://octopi.local",
    ]
    assert not Printer.objects.exists()


def test_add_printer_imports_a_csv(db: None, site: Site, tmp_path: Path) -> None:
    path = tmp_path / "printers.csv"
    path.write_text(CSV)
    out = io.StringIO()
    call_command("add_printer", "--csv", str(path), stdout=out)
    assert "imported 2: sim-a, sim-b" in out.getvalue()


@pytest.mark.integration
def test_add_printer_verifies_an_octoprint_and_reads_its_build_volume(
    db: None, site: Site, octoprint: OctoPrintServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(octoprint.api_key + "\n")
    out = io.StringIO()
    call_command(
        "add_printer",
        "--name",
        "mk4-07",
        "--site",
        "berlin",
        "--kind",
        "octoprint",
        "--url",
        octoprint.url,
        "--api-key-file",
        str(key_file),
        "--model",
        "MK4",
        stdout=out,
    )
    printer = Printer.objects.get(name="mk4-07")
    assert printer.build_volume == (200.0, 200.0, 200.0)  # read back from the OctoPrint profile
    assert decrypt(printer.secret_encrypted) == octoprint.api_key
    assert octoprint.api_key not in out.getvalue()
    assert f"API key ••••••••{octoprint.api_key[-4:]}" in out.getvalue()
    assert "OctoPrint 1." in out.getvalue() and "Operational" in out.getvalue()


@pytest.mark.integration
def test_add_printer_refuses_a_wrong_key(db: None, site: Site, octoprint: OctoPrintServer) -> None:
    with pytest.raises(CommandError, match="rejected the API key"):
        call_command(
            "add_printer",
            "--name",
            "mk4-07",
            "--site",
            "berlin",
            "--kind",
            "octoprint",
            "--url",
            octoprint.url,
            "--api-key",
            "WRONG",
        )
    assert not Printer.objects.exists()


def form_data(site: Site, **extra: Any) -> dict[str, Any]:
    data = {
        "name": "mk4",
        "site": site.pk,
        "model": "MK4",
        "build_x_mm": 250,
        "build_y_mm": 210,
        "build_z_mm": 220,
        "nozzle_mm": 0.4,
        "connection_kind": "octoprint",
        "connection_settings": "{}",
        "url": "http://10.0.0.7",
        "enabled": "on",
        "bed_clear": "on",
    }
    data.update(extra)
    return data


def test_the_admin_form_stores_the_key_encrypted_and_keeps_it_when_left_empty(
    db: None, site: Site
) -> None:
    from farm.admin_forms import PrinterAdminForm

    form = PrinterAdminForm(data=form_data(site, api_key="A" * 32))
    assert form.is_valid(), form.errors
    printer = form.save()
    assert decrypt(printer.secret_encrypted) == "A" * 32
    assert printer.connection_settings == {"url": "http://10.0.0.7"}
    again = PrinterAdminForm(data=form_data(site, model="MK4S"), instance=printer)
    assert "••••••••AAAA" in again.fields["api_key"].help_text
    assert again.is_valid(), again.errors
    assert decrypt(again.save().secret_encrypted) == "A" * 32
    assert "A" * 32 not in str(again["api_key"])  # never rendered back


def test_the_admin_form_verifies_on_save(db: None, site: Site) -> None:
    from farm.admin_forms import PrinterAdminForm

    form = PrinterAdminForm(
        data=form_data(site, api_key="K" * 32, url="http://127.0.0.1:1", verify="on")
    )
    assert not form.is_valid()
    assert "unreachable" in str(form.errors)


@pytest.mark.parametrize("mode", ["html", "garbage", "error-500"])
def test_add_printer_refuses_a_server_that_is_not_octoprint_with_the_reason(
    db: None, site: Site, mode: str
) -> None:
    reasons = {
        "html": "answered with an HTML page, not OctoPrint's API",
        "garbage": "answered with something that is not JSON",
        "error-500": "OctoPrint failed to read its version (500)",
    }
    with bad_server(mode) as url, pytest.raises(CommandError, match=re.escape(reasons[mode])):
        call_command(
            "add_printer",
            *("--name", "mk4-07", "--site", "berlin", "--kind", "octoprint"),
            *("--url", url, "--api-key", "K" * 32),
        )
    assert not Printer.objects.exists()


def test_the_admin_form_shows_an_html_answer_as_a_validation_error(db: None, site: Site) -> None:
    from farm.admin_forms import PrinterAdminForm

    with bad_server("html") as url:
        form = PrinterAdminForm(data=form_data(site, api_key="K" * 32, url=url, verify="on"))
        assert not form.is_valid()
    assert "verification failed: unreachable: answered with an HTML page" in str(form.errors)


def test_the_admin_form_keeps_an_octoprints_port_and_baud(db: None, site: Site) -> None:
    from farm.admin_forms import PrinterAdminForm

    form = PrinterAdminForm(
        data=form_data(site, api_key="A" * 32, port="/dev/ttyACM0", baud=250000)
    )
    assert form.is_valid(), form.errors
    assert form.save().connection_settings == {
        "url": "http://10.0.0.7",
        "port": "/dev/ttyACM0",
        "baud": 250000,
    }
