"""`python manage.py farm_report [--days 7] [--within 5] [--json]`: how the farm is doing."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from farm.services.reports import farm_report


class Command(BaseCommand):
    help = "Share of jobs done within N days, estimate errors, utilisation, pieces per day."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=7, help="the period, in days")
        parser.add_argument("--within", type=float, default=5.0, help="the on-time target")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        report = farm_report(days=options["days"], within_days=options["within"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
            return
        w = self.stdout.write
        share = report["share_finished_within_days"]
        value = "-" if share["share"] is None else f"{share['share']:.0%}"
        w(f"Jobs finished within {share['days']:g} days of submission: {value}")
        e = report["estimate_error"]
        w(
            f"Estimates ({e['runs']} runs): median error {e['median_abs']:.0%}, "
            f"90th percentile {e['p90_abs']:.0%}, within 10%: {e['within_10_percent']:.0%}"
        )
        for kind, values in report["utilisation"].items():
            w(f"Utilisation by {kind}: " + ", ".join(f"{k} {v:.0%}" for k, v in values.items()))
        w("Pieces per day: " + " ".join(str(n) for n in report["pieces_per_day"]))
