"""Add a site: `python manage.py add_site --name Berlin --slug berlin [--timezone Europe/Berlin]`.

Then its printers (`add_printer --site berlin ...`), its worker on queue `site.berlin` and its
fleet link (`fleetlink --site berlin`): README, "Many sites".
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from farm.services.sites import site_add


class Command(BaseCommand):
    help = "Add a site (a microfactory); its printers, worker and fleet link come next."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="letters, digits, - and _: its queue")
        parser.add_argument("--timezone", default="UTC", help="for its staffed hours")
        parser.add_argument("--location", default="")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            site = site_add(
                name=o["name"], slug=o["slug"], timezone_name=o["timezone"], location=o["location"]
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(
            f"site {site.name} added (slug {site.slug}, queue site.{site.slug}); "
            f"next: add_printer --site {site.slug}, its worker and its fleet link"
        )
