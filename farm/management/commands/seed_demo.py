"""`python manage.py seed_demo [--if-empty]`: a demo farm of simulated printers.

Creates three sites, materials, 24 simulated printers (`--printers N` for more; a quarter with
auto-eject, so the demo keeps flowing on its own; rows of 20 on each site's floor, a few tags), a user for each role with a random password (printed once, and kept
in var/demo-logins.txt for `make run` to show), a few sample parts submitted as jobs, and
spools, stock thresholds and maintenance schedules (`farm.management.demo_records`).
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import trimesh
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from farm.management.demo_records import demo_records_seed
from farm.models import Material, Printer, Site
from farm.models.printer import ConnectionKind
from farm.roles import EMPLOYEE, OPERATOR
from farm.services.submission import job_submit

SITES = [  # name, slug, location, time zone, staffed hours (local), staffed days
    ("Berlin", "berlin", "Halle 3, Berlin", "Europe/Berlin", (0, 24), "0123456"),
    ("Lyon", "lyon", "Atelier Sud, Lyon", "Europe/Paris", (0, 24), "0123456"),
    ("Detroit", "detroit", "Plant 2, Detroit", "America/Detroit", (6, 22), "012345"),
]
MATERIALS = [
    ("PLA", 1.24, 210, 60, "22.00"),
    ("PETG", 1.27, 240, 80, "26.00"),
    ("ABS", 1.04, 250, 100, "24.00"),
]
MODELS = [
    ("Prusa MK4", (250, 210, 220)),
    ("Prusa MINI+", (180, 180, 180)),
    ("Creality K1", (220, 220, 250)),
]
LOADS = [("PLA", "black"), ("PLA", "white"), ("PETG", "black"), ("PLA", "red"), ("ABS", "grey")]
LOGINS_FILE = "demo-logins.txt"
ROW_LENGTH = 20  # printers in one row (or rack) on the floor


def sample_parts() -> list[tuple[str, bytes]]:
    """A few small parts made on the spot (no test data is shipped in the repository)."""
    bracket = trimesh.util.concatenate(
        [
            trimesh.creation.box((40, 20, 4)),
            trimesh.creation.box((4, 20, 30)).apply_translation((18, 0, 15)),
        ]
    )
    parts = {
        "spacer.stl": trimesh.creation.annulus(r_min=4, r_max=9, height=12),
        "bracket.stl": bracket,
        "knob.stl": trimesh.creation.cylinder(radius=12, height=15, sections=48),
        "gear-blank.stl": trimesh.creation.cylinder(radius=25, height=6, sections=64),
    }
    out = []
    for name, mesh in parts.items():
        buffer = io.BytesIO()
        mesh.export(buffer, file_type="stl")
        out.append((name, buffer.getvalue()))
    return out


class Command(BaseCommand):
    help = "Create a demo farm: sites, materials, simulated printers, users and sample jobs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing if seeded")
        parser.add_argument("--printers", type=int, default=24)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Site.objects.exists():
            self.stdout.write("The demo farm is already there; not seeding again.")
            return
        with transaction.atomic():
            logins = self._seed(options["printers"])
        path = Path(settings.VAR_DIR) / LOGINS_FILE
        path.write_text(
            "".join(f"{role}: {user} / {password}\n" for role, user, password in logins)
        )
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Demo farm created. Log-ins (shown once):"))
        for role, user, password in logins:
            self.stdout.write(f"  {role:9} {user:10} {password}")

    def _seed(self, printer_count: int) -> list[tuple[str, str, str]]:
        sites = [
            Site.objects.create(
                name=n,
                slug=s,
                location=loc,
                timezone=tz,
                staffed_from_hour=hours[0],
                staffed_until_hour=hours[1],
                staffed_weekdays=days,
            )
            for n, s, loc, tz, hours, days in SITES
        ]
        materials = {
            name: Material.objects.create(
                name=name, density_g_cm3=d, nozzle_temp_c=t, bed_temp_c=b, cost_per_kg=c
            )
            for name, d, t, b, c in MATERIALS
        }
        Printer.objects.bulk_create(
            (self._printer(i, sites, materials) for i in range(printer_count)), batch_size=1000
        )
        demo_records_seed(materials=materials, loads=LOADS)
        logins = []
        employees = Group.objects.get_or_create(name=EMPLOYEE)[0]
        operators = Group.objects.get_or_create(name=OPERATOR)[0]
        for role, username, group, staff in (
            ("admin", "admin", None, True),
            ("operator", "operator", operators, False),
            ("employee", "alice", employees, False),
            ("employee", "bob", employees, False),
        ):
            password = secrets.token_urlsafe(9)
            # An address, so a password reset in the demo shows its mail on the web's console.
            user = User.objects.create_user(
                username=username, password=password, email=f"{username}@farm.example"
            )
            if staff:
                user.is_staff = user.is_superuser = True
                user.save()
            if group:
                user.groups.add(group)
            logins.append((role, username, password))
        alice = User.objects.get(username="alice")
        for i, (name, data) in enumerate(sample_parts()):
            job_submit(
                owner=alice,
                upload=SimpleUploadedFile(name, data),
                material=materials["PLA"],
                colour=("black", "white", "red", "")[i % 4],
                quantity=1 + i % 3,
            )
        return logins

    def _printer(self, i: int, sites: list[Site], materials: dict[str, Material]) -> Printer:
        model, (x, y, z) = MODELS[i % len(MODELS)]
        material, colour = LOADS[i % len(LOADS)]
        site = sites[i % len(sites)]
        number = i // len(sites)  # the printer's place at its site, from 0
        return Printer(
            # Numbered as people would (berlin-2, berlin-10): the fleet view sorts naturally.
            name=f"{site.slug}-{number + 1}",
            site=site,
            row=f"R{number // ROW_LENGTH + 1}",
            position=number % ROW_LENGTH + 1,
            tags=",".join(
                tag
                for tag, wanted in (("enclosed", model == "Creality K1"), ("night", i % 6 == 0))
                if wanted
            ),
            model=model,
            build_x_mm=x,
            build_y_mm=y,
            build_z_mm=z,
            material=materials[material],
            colour=colour,
            connection_kind=ConnectionKind.SIMULATED,
            connection_settings={"fail_probability": 0.03},
            auto_eject=i % 4 == 0,  # spread over the three sites
        )
