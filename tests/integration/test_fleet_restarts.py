"""The fleet link survives a PostgreSQL restart by itself.

A PostgreSQL cluster of the test's own (tests/integration/services.py), a real
`manage.py fleetlink` process, two simulated printers: one print ends while the database is
down, the other after it is back. Both must be recorded without restarting the fleet link.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.processes import ROOT, wait_for
from tests.integration.services import Cluster, postgres_cluster

pytestmark = [pytest.mark.integration, pytest.mark.own_services]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with postgres_cluster() as c:
        yield c


SETUP = """
from pathlib import Path
from farm.models import Material, Printer, Site
from printers.drivers import driver_for
site = Site.objects.get_or_create(name="Berlin", slug="berlin", timezone="Europe/Berlin")[0]
pla = Material.objects.get_or_create(name="PLA")[0]
gcode = Path({gcode!r})
for name, seconds in (("during", {during}), ("after", {after})):
    p = Printer.objects.filter(name=name).first() or Printer.objects.create(
        name=name, site=site, model="sim", material=pla, colour="black",
        connection_kind="simulated", connection_settings={{"speedup": 1}}, state="ready",
    )
    if seconds:
        driver_for("simulated", device_id=p.device_id, settings={{"speedup": 1}}).start(
            job_name=name + ".gcode", gcode_path=gcode, expected_seconds=seconds
        )
"""

STATES = (
    "from farm.models import Printer; print(dict(Printer.objects.values_list('name', 'state')))"
)


def test_the_fleet_link_records_prints_that_end_during_and_after_a_postgres_restart(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "FARM_DATABASE_URL": cluster.url,
        "FARM_VAR_DIR": str(tmp_path / "var"),
        "FARM_POLL_SECONDS": "0.3",
    }
    env.pop("FARM_REDIS_URL", None)  # this test is about the database; the cache is local
    manage = [sys.executable, str(ROOT / "manage.py")]

    def shell(code: str) -> str:
        done = subprocess.run(
            [*manage, "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode()

    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    gcode = tmp_path / "part.gcode"
    gcode.write_text("G28\nG1 X10 Y10\n")
    shell(SETUP.format(gcode=str(gcode), during=0, after=0))  # two idle printers
    log = (tmp_path / "fleetlink.log").open("wb")
    link = subprocess.Popen(
        [*manage, "fleetlink"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            lambda: "watching printers" in (tmp_path / "fleetlink.log").read_text(),
            timeout=60,
            what="the fleet link to start",
            logs=tmp_path,
        )
        # "during" ends 15 s from now, while the database is down; "after" 35 s from now.
        # (Each shell() is a Django start-up: seconds on a busy machine, so room is left.)
        started = time.monotonic()
        shell(SETUP.format(gcode=str(gcode), during=15, after=35))
        wait_for(
            lambda: "'during': 'printing'" in shell(STATES),
            timeout=30,
            what="the fleet link to see the prints",
            logs=tmp_path,
        )
        began = time.monotonic()
        cluster.stop()
        assert time.monotonic() - started < 15, "too slow to stop the database before the end"
        time.sleep(max(0.0, started + 17 - time.monotonic()))  # "during" ends meanwhile
        cluster.start()
        restarted = time.monotonic()
        assert link.poll() is None, "the fleet link died with the database"
        wait_for(
            lambda: "'during': 'finished'" in shell(STATES),
            timeout=30,
            what="the print that ended during the restart to be recorded",
            logs=tmp_path,
        )
        during_s = time.monotonic() - restarted
        wait_for(
            lambda: "'after': 'finished'" in shell(STATES),
            timeout=30,
            what="the print that ended after the restart to be recorded",
            logs=tmp_path,
        )
        assert link.poll() is None
        down_s = restarted - began
        print(f"database down {down_s:.1f} s; recorded {during_s:.1f} s after it came back")
    finally:
        link.terminate()
        link.wait(timeout=20)
