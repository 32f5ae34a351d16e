"""Add a printer, verified on save, or many from a CSV.

manage.py add_printer --name mk4-07 --site berlin --kind octoprint --url http://10.0.0.7
    (the API key is read from --api-key-file, $FARM_PRINTER_API_KEY, or asked for)
manage.py add_printer --name ender-3 --site berlin --kind serial --port /dev/ttyUSB0 --baud 115200
manage.py add_printer --csv printers.csv
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from farm.models import Site
from farm.models.printer import ConnectionKind
from farm.services.printer_setup import printer_add, printers_import_csv
from printers.secrets import mask


class Command(BaseCommand):
    help = "Add a printer (OctoPrint or USB serial), verified on save; or import many from a CSV."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--csv", type=Path, help="import every printer of this CSV file")
        parser.add_argument("--name")
        parser.add_argument("--site", help="the site's slug or name")
        parser.add_argument("--kind", choices=ConnectionKind.values)
        parser.add_argument("--model", default="unknown", help="e.g. Prusa MK4")
        parser.add_argument("--url", help="OctoPrint's URL, with its path prefix if any")
        parser.add_argument("--api-key-file", type=Path, help="a file holding the API key")
        parser.add_argument(
            "--api-key",
            help="the API key (visible to other users in the process list: prefer the file, "
            "$FARM_PRINTER_API_KEY or the prompt)",
        )
        parser.add_argument(
            "--port",
            help="serial device, e.g. /dev/serial/by-id/usb-...; for OctoPrint, the port it "
            "connects its printer on (default: OctoPrint's own choice)",
        )
        parser.add_argument("--baud", type=int, help="serial: default 115200; OctoPrint: its own")
        parser.add_argument("--window", type=int, help="serial lines in flight (default: M115)")
        parser.add_argument("--no-verify", action="store_true", help="save without talking to it")

    def handle(self, *args: Any, **o: Any) -> None:
        verify = not o["no_verify"]
        if o["csv"]:
            result = printers_import_csv(text=o["csv"].read_text(), verify=verify)
            if result.errors:
                raise CommandError("nothing imported:\n  " + "\n  ".join(result.errors))
            self.stdout.write(f"imported {len(result.created)}: {', '.join(result.created)}")
            return
        for needed in ("name", "site", "kind"):
            if not o[needed]:
                raise CommandError(f"--{needed} is required (or use --csv)")
        site = (
            Site.objects.filter(slug=o["site"]).first()
            or Site.objects.filter(name=o["site"]).first()
        )
        if site is None:
            raise CommandError(f"no site {o['site']!r}")
        settings: dict[str, Any] = {}
        secret = ""
        if o["kind"] == ConnectionKind.OCTOPRINT:
            settings = {"url": o["url"] or "", "port": o["port"], "baud": o["baud"]}
            secret = self._api_key(o)
        elif o["kind"] == ConnectionKind.SERIAL:
            settings = {"port": o["port"] or "", "baud": o["baud"] or 115200, "window": o["window"]}
        try:
            printer, checked = printer_add(
                name=o["name"],
                site=site,
                kind=o["kind"],
                settings=settings,
                secret=secret,
                verify=verify,
                model=o["model"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        line = f"added {printer.name} ({checked.summary if checked else 'not verified'})"
        if secret:
            line += f"; API key {mask(secret)}"
        self.stdout.write(line)

    def _api_key(self, o: dict[str, Any]) -> str:
        if o["api_key_file"]:
            return str(o["api_key_file"].read_text().strip())
        if o["api_key"]:
            return str(o["api_key"])
        if os.environ.get("FARM_PRINTER_API_KEY"):
            return os.environ["FARM_PRINTER_API_KEY"]
        if sys.stdin.isatty():
            return getpass.getpass("OctoPrint API key: ").strip()
        raise CommandError("an OctoPrint printer needs an API key (--api-key-file or prompt)")
