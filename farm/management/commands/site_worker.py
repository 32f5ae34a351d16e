"""`python manage.py site_worker --site SLUG [--concurrency N]`: the Celery worker of one site.

Run it on the site's network, next to its printers (with the fleet link of the site): it
consumes the site's queue, `site.<slug>`, which holds the dispatches and commands of that
site's printers and nothing else, so the centre never needs to reach a printer. Dispatch is
I/O (an upload streamed to a printer, then a start), so the pool is threads, not processes:
`--concurrency` (FARM_SITE_DISPATCH_CONCURRENCY, 16) uploads at once for the site, however many
runs a pass starts there.

The slug is checked against the database first: a typo must not start a worker on a queue no
run is ever sent to while the real site's queue waits. The command then becomes the worker
(exec), so a service manager's signals reach Celery directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from farm.models import Site
from farm.task_names import site_queue


def site_worker_command(slug: str, *, concurrency: int, loglevel: str = "INFO") -> list[str]:
    """The Celery worker command of one site (what `site_worker` runs)."""
    celery = str(Path(sys.executable).with_name("celery"))
    return [
        celery,
        "-A",
        "farm",
        "worker",
        "-Q",
        site_queue(slug),
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
        "-n",
        f"site-{slug}@%h",
    ]


class Command(BaseCommand):
    help = "Run the Celery worker of one site: its printers' dispatches and commands."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site", required=True, help="the site's slug")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.FARM_SITE_DISPATCH_CONCURRENCY,
            help="dispatches at once (threads; default FARM_SITE_DISPATCH_CONCURRENCY)",
        )
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument(
            "--print", action="store_true", help="print the worker command instead of running it"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        slug = o["site"]
        if o["concurrency"] < 1:
            raise CommandError("--concurrency must be 1 or more")
        if not Site.objects.filter(slug=slug).exists():
            known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"no site {slug!r} (sites: {known or 'none yet'})")
        command = site_worker_command(slug, concurrency=o["concurrency"], loglevel=o["loglevel"])
        if o["print"]:
            self.stdout.write(" ".join(command))
            return
        connection.close()  # the worker opens its own
        sys.stdout.flush()
        os.execv(command[0], command)
