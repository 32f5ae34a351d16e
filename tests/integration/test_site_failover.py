"""Two sites, one site goes dark: it shows down, its queued work moves to the other site and
prints there, and when it comes back nothing has run twice.

The processes of the README's multi-site recipe, on a PostgreSQL cluster and a Redis of the
test's own: the centre's worker (scheduling passes, sweeps) and beat; per site a worker on
its queue `site.<slug>` and a fleet link (`fleetlink --site <slug>`). The four printers are
emulated OctoPrints served from this process, so they go on printing whatever happens to the
farm, and they are the record of what was printed: every print each one started.

Production timings throughout (1 s polls, heartbeats written every 5 s and stale after 20 s,
the 10 s sites sweep, 10 s scheduling passes), except FARM_SITE_DOWN_GRACE_SECONDS, the
documented grace before a silent site's work is released, which the processes get as 5 s
(60 s in production) to keep the test short; the mechanism that runs is the production one.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trimesh

from printers.octoprint_emulator.server import EmulatorServer
from tests.integration.faults import Farm
from tests.integration.processes import BIN, ROOT
from tests.integration.services import postgres_cluster, redis_server

pytestmark = [pytest.mark.integration, pytest.mark.own_services]

GRACE_SECONDS = "5"
SECONDS_PER_LINE = 0.004  # the emulator's print time per G-code line

SETUP = """
from django.contrib.auth.models import User
from farm.models import Material, Printer
from farm.services.sites import site_add
from printers.secrets import encrypt
User.objects.create_user("erin", password="unused-" + {key!r})
pla = Material.objects.create(name="PLA")
for slug, urls in {sites!r}.items():
    site = site_add(name=slug.capitalize(), slug=slug)
    for n, url in urls:
        Printer.objects.create(
            name=f"{{slug}}-{{n}}", site=site, model="emulated", material=pla, colour="black",
            connection_kind="octoprint", secret_encrypted=encrypt({key!r}),
            connection_settings={{"url": url, "port": "VIRTUAL", "baud": 115200}},
            state="offline", auto_eject=True,
        )
"""

SUBMIT = """
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from farm.models import Material, Site
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from pathlib import Path
path = Path({path!r})
site = Site.objects.get(slug={site!r}) if {site!r} else None
job = job_submit(
    owner=User.objects.get(username="erin"),
    upload=SimpleUploadedFile(path.name, path.read_bytes()),
    material=Material.objects.get(name="PLA"), quantity=1, colour="black", site=site,
)
job_prepare(job_id=job.pk)  # here, so the test needs no slicing worker
print("job", job.pk)
"""


@dataclass
class Started:
    """Every print an emulated printer started: (printer number, file name), in order."""

    prints: list[tuple[int, str]] = field(default_factory=list)

    def record(self, server: EmulatorServer) -> None:
        for n, printer in server.printers.items():
            start = printer._start

            def recorded(*args: Any, _n: int = n, _p: Any = printer, _s: Any = start) -> None:
                self.prints.append((_n, _p.selected))
                _s(*args)

            printer._start = recorded  # type: ignore[method-assign,assignment]


@dataclass
class SitesFarm(Farm):
    """The fault tests' farm (psql-style reads, manage.py, waits), with the recipe's
    processes started and stopped one by one instead of under run_farm."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def submit_at(self, path: Path, *, site: str = "") -> int:
        out = self.manage("shell", "-c", SUBMIT.format(path=str(path), site=site))
        return int(re.findall(r"job (\d+)", out)[-1])

    def start(self, name: str, command: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def site_worker(slug: str) -> list[str]:
    """The README's worker of one site: its printers' dispatches and commands."""
    return [sys.executable, "manage.py", "site_worker", "--site", slug]


def fleet_link(slug: str) -> list[str]:
    return [sys.executable, "manage.py", "fleetlink", "--site", slug]


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[tuple[SitesFarm, EmulatorServer, Started]]:
    key = secrets.token_hex(16).upper()
    server = EmulatorServer(
        ("127.0.0.1", 0), printers=4, api_key=key, seconds_per_line=SECONDS_PER_LINE
    )
    started = Started()
    started.record(server)
    with postgres_cluster() as cluster, redis_server() as redis, _serving(server):
        var = tmp_path / "var"
        env = {
            **os.environ,
            "FARM_DATABASE_URL": cluster.url,
            "FARM_REDIS_URL": redis.url,
            "FARM_VAR_DIR": str(var),
            "FARM_MEDIA_ROOT": str(var / "media"),
            "FARM_SECRET_KEY": secrets.token_urlsafe(40),
            "FARM_LOG_LEVEL": "INFO",
            "FARM_SITE_DOWN_GRACE_SECONDS": GRACE_SECONDS,
        }
        for timing in ("FARM_POLL_SECONDS", "FARM_SCHEDULE_SECONDS", "FARM_OFFLINE_GRACE_SECONDS"):
            env.pop(timing, None)  # production timings, whatever the shell had
        f = SitesFarm(cluster, redis, env, tmp_path, port=0)
        f.manage("migrate", "-v", "0")
        sites = {
            "north": [(0, server.printer_url(0)), (1, server.printer_url(1))],
            "south": [(2, server.printer_url(2)), (3, server.printer_url(3))],
        }
        f.manage("shell", "-c", SETUP.format(key=key, sites=sites))
        try:
            celery = str(BIN / "celery")
            central = [
                celery,
                "-A",
                "farm",
                "worker",
                "-Q",
                "default",
                "-c",
                "2",
                "-n",
                "worker@%h",
            ]
            f.start("central", central)
            f.start("beat", [celery, "-A", "farm", "beat", "-s", str(var / "beat-schedule")])
            for slug in sites:
                f.start(f"worker-{slug}", site_worker(slug))
                f.start(f"fleetlink-{slug}", fleet_link(slug))
            yield f, server, started
        finally:
            for name in list(f.processes):
                f.stop(name)


@contextlib.contextmanager
def _serving(server: EmulatorServer) -> Iterator[None]:
    server.start()
    try:
        yield
    finally:
        server.stop()


def part(tmp_path: Path, name: str, height_mm: float) -> Path:
    path = tmp_path / f"{name}.stl"
    trimesh.creation.box(extents=(20, 20, height_mm)).export(path)
    return path


def file_name(run_id: int, created: datetime.datetime) -> str:
    """The run's file name on the printer (PrintRun.job_name), from its row."""
    return f"farm-run-{run_id}-{created.astimezone(datetime.UTC):%Y%m%d%H%M%S}.gcode"


def test_a_site_whose_fleet_link_stops_is_down_its_work_moves_and_nothing_prints_twice(
    farm: tuple[SitesFarm, EmulatorServer, Started],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    f, server, started = farm
    report: list[str] = []

    def ready() -> bool:
        return f.sql("SELECT count(*) FROM farm_printer WHERE state = 'ready'") == [(4,)]

    f.wait(ready, timeout=120, what="the four printers ready")
    heard = f.sql("SELECT slug FROM farm_site WHERE last_heartbeat_at IS NOT NULL ORDER BY slug")
    assert heard == [("north",), ("south",)]

    # A long print that only North may print, under way when North goes dark.
    long_job = f.submit_at(part(tmp_path, "tall", 40), site="north")

    def long_printing() -> bool:
        return bool(
            f.sql("SELECT 1 FROM farm_printrun WHERE job_id = %s AND status = 'printing'", long_job)
        )

    f.wait(long_printing, timeout=90, what="the long job printing at North")
    [(long_run, long_printer)] = f.sql(
        "SELECT r.id, p.name FROM farm_printrun r JOIN farm_printer p ON p.id = r.printer_id"
        " WHERE r.job_id = %s",
        long_job,
    )

    # North goes dark: its fleet link and its worker stop (a power cut, a network cut).
    f.stop("fleetlink-north")
    f.stop("worker-north")
    dark_at = time.monotonic()
    cube = part(tmp_path, "cube", 10)
    jobs = [f.submit_at(cube) for _ in range(4)]

    def north_down() -> bool:
        # Marked down, and the same sweep's release rules applied to its runs (their own
        # transactions, right after the site's).
        down = f.sql("SELECT online FROM farm_site WHERE slug = 'north'") == [(False,)]
        return down and not f.sql(
            "SELECT 1 FROM farm_printrun r JOIN farm_printer p ON p.id = r.printer_id"
            " JOIN farm_site s ON s.id = p.site_id"
            " WHERE s.slug = 'north' AND r.status IN ('dispatching', 'printing', 'paused')"
        )

    f.wait(north_down, timeout=120, what="North marked down")
    report.append(f"North marked down {time.monotonic() - dark_at:.0f} s after it went dark")
    status = json.loads(f.manage("farm_status", "--json"))
    assert status["sites"]["north"]["condition"] == "down"
    assert status["sites"]["south"]["condition"] == "up"
    assert status["printers_by_site_and_state"]["north"] == {"unknown": 2}
    assert f.sql("SELECT status FROM farm_printrun WHERE id = %s", long_run) == [("in_doubt",)]
    released = f.sql("SELECT id, created_at FROM farm_printrun WHERE status = 'released'")
    # The copy planned onto North's free printer before it was known down went elsewhere.
    assert len(released) == 1, f.sql("SELECT id, status, printer_id FROM farm_printrun")

    def jobs_done() -> bool:
        return f.sql(
            "SELECT count(*) FROM farm_job WHERE id = ANY(%s) AND status = 'done'", jobs
        ) == [(4,)]

    f.wait(jobs_done, timeout=180, what="the four short jobs done at South")
    report.append(f"its work printed at South {time.monotonic() - dark_at:.0f} s after")

    # North comes back: its printers say what they did while nobody watched.
    back_at = time.monotonic()
    f.start("worker-north", site_worker("north"))
    f.start("fleetlink-north", fleet_link("north"))

    def all_done() -> bool:
        return (
            f.sql("SELECT count(*) FROM farm_job WHERE status <> 'done'") == [(0,)] and north_up()
        )

    def north_up() -> bool:
        return f.sql("SELECT online FROM farm_site WHERE slug = 'north'") == [(True,)]

    f.wait(all_done, timeout=120, what="North up and the long job done")
    report.append(
        f"North up and its run in doubt reconciled {time.monotonic() - back_at:.0f} s after"
    )
    # North's worker has taken the stale dispatch of the released run meanwhile (and did nothing).
    time.sleep(5)

    runs = f.sql(
        "SELECT r.id, r.created_at, r.job_id, r.status, p.name, s.slug FROM farm_printrun r"
        " JOIN farm_printer p ON p.id = r.printer_id JOIN farm_site s ON s.id = p.site_id"
    )
    by_file = {
        file_name(pk, created): (job, run_status, slug)
        for pk, created, job, run_status, _, slug in runs
    }
    printed = [name for _, name in started.prints]
    # Nothing printed twice: every print the printers started is a different run's file...
    assert len(printed) == len(set(printed)) == 5, started.prints
    # ...of a run the farm knows, each job printed once, the released run never.
    assert {by_file[name][0] for name in printed} == {long_job, *jobs}
    assert file_name(*released[0]) not in printed
    # The short jobs printed at South (North's free printer printed nothing), the long one at
    # North, on the printer it was on, and no run failed because its site went dark.
    names = {n: f"{'north' if n < 2 else 'south'}-{n}" for n in server.printers}
    assert {names[n] for n, name in started.prints if by_file[name][0] in jobs} <= {
        "south-2",
        "south-3",
    }
    assert [names[n] for n, name in started.prints if by_file[name][0] == long_job] == [
        long_printer
    ]
    assert not [r for r in runs if r[3] == "failed"]
    assert sorted(r[3] for r in runs) == ["done"] * 5 + ["released"]
    kinds = dict(f.sql("SELECT kind, count(*) FROM farm_event GROUP BY kind"))
    assert kinds["site.down"] == 1 and kinds["site.up"] == 1 and kinds["run.released"] == 1
    with capsys.disabled():
        print("\n[sites] " + "; ".join(report))
