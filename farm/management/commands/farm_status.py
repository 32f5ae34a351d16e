"""`python manage.py farm_status [--json]`: jobs, runs, printers, queue and latest estimate."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from farm.services.status import farm_summary


class Command(BaseCommand):
    help = "Print the state of the farm (for an operator over SSH, or --json for scripts)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = farm_summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2, sort_keys=True))
            return
        w = self.stdout.write
        w("Sites:")
        for slug, site in sorted(summary["sites"].items()):
            w(f"  {slug:12} {site['condition']}: {site['detail']}")
        w("Jobs:    " + _pairs(summary["jobs_by_status"]))
        w("Runs:    " + _pairs(summary["runs_by_status"]))
        w("Printers:")  # those of a site shown down count as unknown: they may be printing
        for site, states in sorted(summary["printers_by_site_and_state"].items()):
            w(f"  {site:12} " + _pairs(states))
        w(f"Queue:   {summary['queue_length']} job(s) waiting")
        w(f"Beds to clear: {summary['beds_to_clear']}")
        w(f"Latest completion estimate: {summary['latest_completion_estimate'] or '-'}")
        sc = summary["slice_cache"]
        rate = f"{sc['hit_rate']:.0%}" if sc["hit_rate"] is not None else "-"
        w(
            f"Slice cache: {sc['entries']} entries, {sc['size_mb']:,.0f} of {sc['max_mb']:,} MB; "
            f"{sc['hits']} hits, {sc['misses']} misses ({rate} hit)"
        )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
