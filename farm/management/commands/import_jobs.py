"""`python manage.py import_jobs FILE.csv [--owner USER] [--files-root DIR] [--json]`.

One job per row; columns (a header row names them): file, quantity, material, colour,
priority, due, site, needed_at (see the README). All or nothing: with any bad row nothing is
saved and every bad row is listed. Each distinct part is sliced once (`farm.services.bulk`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from farm.services.bulk import jobs_import


class Command(BaseCommand):
    help = "Submit many jobs from a CSV file (all or nothing); each part is sliced once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("csv", type=Path)
        parser.add_argument(
            "--owner", help="username of the jobs' owner (default: first superuser)"
        )
        parser.add_argument(
            "--files-root", type=Path, help="folder the file paths are in (default: the CSV's)"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        owner = _owner(o["owner"])
        root = o["files_root"] or o["csv"].resolve().parent
        started = time.perf_counter()
        try:
            with o["csv"].open(newline="", encoding="utf-8-sig") as handle:
                result = jobs_import(owner=owner, csv_file=handle, files_root=root)
        except OSError as exc:
            raise CommandError(f"cannot read {o['csv']}: {exc.strerror}") from exc
        seconds = round(time.perf_counter() - started, 3)
        if o["json"]:
            report = {
                "jobs": len(result.job_ids),
                "prepared": result.prepared,
                "seconds": seconds,
                "errors": result.errors,
            }
            self.stdout.write(json.dumps(report, indent=2))
        if result.errors:
            if not o["json"]:
                for error in result.errors:
                    self.stderr.write(error)
            raise CommandError(f"{len(result.errors)} bad row(s): nothing was imported")
        if not o["json"]:
            self.stdout.write(
                f"imported {len(result.job_ids)} jobs in {seconds} s "
                f"({result.prepared} file(s) prepared, the others shared)"
            )


def _owner(username: str | None) -> User:
    if username:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    if owner is None:
        raise CommandError("no superuser to own the jobs: pass --owner USER")
    return owner
