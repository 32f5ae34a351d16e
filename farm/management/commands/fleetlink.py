"""Watch the printers: `python manage.py fleetlink [--site SLUG] [--shard i/n] [--once]`."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from farm.services.fleet import fleet_link_build, fleet_serial_ports
from printers.serialhost.channel import PortConfig, serve_in_thread


class Command(BaseCommand):
    help = "Watch every printer (of a site or shard), keep live state, record transitions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site", help="only the printers of this site (its slug)")
        parser.add_argument("--shard", default="0/1", help="i/n: every n-th printer from i")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            index, count = (int(x) for x in options["shard"].split("/"))
            if not 0 <= index < count:
                raise ValueError
        except ValueError:
            raise CommandError("--shard takes i/n with 0 <= i < n, e.g. 0/4") from None
        site = options["site"] or ""
        # As many threads for the synchronous drivers as the connection budget counts.
        threads = settings.FARM_CONNECTIONS.fleet_link_threads
        link = fleet_link_build(
            site=site, shard=(index, count), threads=threads, leases=not options["once"]
        )
        if options["once"]:
            try:
                link.run_once()
            finally:
                link.close()
            return

        def serial_ports() -> list[PortConfig]:
            return fleet_serial_ports(site=site, shard=(index, count))

        # USB printers are streamed from this process: the serial host holds their ports for
        # hours, which no Celery task may do. Dispatch hands it prints through the database.
        serial_host, serial_thread = serve_in_thread(serial_ports)
        signal.signal(signal.SIGTERM, lambda *_: link.stop.set())
        signal.signal(signal.SIGINT, lambda *_: link.stop.set())
        self.stdout.write(f"fleet link watching printers (shard {index}/{count})")
        try:
            link.run_forever()
        finally:
            serial_host.stop()
            serial_thread.join(timeout=10)
