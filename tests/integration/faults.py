"""A whole farm for the fault tests: `manage.py run_farm` (the supervisor `make run` uses, with
its web server, both worker pools, beat and the fleet link) on a PostgreSQL cluster and a Redis
of the test's own, at production timings. The test reads the database directly (psycopg),
submits through the web form or the service, and kills or restarts what it likes."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests

from tests.integration.processes import ROOT
from tests.integration.services import Cluster, RedisServer, free_port

PASSWORD = "faults-" + secrets.token_hex(8)

SETUP = f"""
from django.contrib.auth.models import Group, User
from farm.models import Material, Printer, Site
from farm.roles import EMPLOYEE
erin = User.objects.create_user("erin", password={PASSWORD!r})
erin.groups.add(Group.objects.get_or_create(name=EMPLOYEE)[0])
site = Site.objects.create(name="Berlin", slug="berlin", timezone="Europe/Berlin")
pla = Material.objects.create(name="PLA")
for name in ("sim-1", "sim-2"):
    Printer.objects.create(
        name=name, site=site, model="sim", material=pla, colour="black",
        connection_kind="simulated", connection_settings={{"speedup": 5000}},
        state="ready", auto_eject=True,
    )
"""

SUBMIT = """
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from farm.models import Material
from farm.services.submission import job_submit
from pathlib import Path
path = Path({path!r})
job = job_submit(
    owner=User.objects.get(username="erin"),
    upload=SimpleUploadedFile(path.name, path.read_bytes()),
    material=Material.objects.get(name="PLA"), quantity=1, colour="black",
)
print("job", job.pk)
"""


@dataclass(frozen=True)
class JobState:
    status: str
    prepare_attempts: int
    runs: int
    runs_done: int


@dataclass
class Farm:
    cluster: Cluster
    redis: RedisServer
    env: dict[str, str]
    logs: Path
    port: int
    supervisor: subprocess.Popen[bytes] | None = None
    web: requests.Session | None = None

    # -- the database, read as an operator would with psql
    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            host="127.0.0.1", port=self.cluster.port, user="farm", dbname="farm", autocommit=True
        ) as conn:
            return conn.execute(query, args).fetchall()

    def job(self, job_id: int) -> JobState:
        [(status, attempts)] = self.sql(
            "SELECT status, prepare_attempts FROM farm_job WHERE id = %s", job_id
        )
        [(runs, done)] = self.sql(
            "SELECT count(*), count(*) FILTER (WHERE status = 'done') FROM farm_printrun"
            " WHERE job_id = %s",
            job_id,
        )
        return JobState(status, attempts, runs, done)

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        return done.stdout.decode()

    def submit(self, path: Path) -> int:
        """A job submitted through the service (no quote to confirm), as the API does."""
        out = self.manage("shell", "-c", SUBMIT.format(path=str(path)))
        return int(re.findall(r"job (\d+)", out)[-1])

    # -- the web, as an employee's browser would use it
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_in(self) -> None:
        web = requests.Session()
        web.get(self.url("/accounts/login/"), timeout=30)
        answer = web.post(
            self.url("/accounts/login/"),
            data={
                "username": "erin",
                "password": PASSWORD,
                "csrfmiddlewaretoken": web.cookies["csrftoken"],
            },
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[-2000:]
        self.web = web

    def post_form(self, path: str, data: dict[str, Any], **kwargs: Any) -> requests.Response:
        assert self.web is not None
        data = {**data, "csrfmiddlewaretoken": self.web.cookies["csrftoken"]}
        return self.web.post(self.url(path), data=data, timeout=60, allow_redirects=False, **kwargs)

    # -- the processes run_farm supervises
    def child(self, marker: str) -> int:
        """The pid of the supervisor's child whose command line contains `marker`."""
        assert self.supervisor is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.supervisor.pid and marker in cmdline:
                return int(entry.name)
        raise AssertionError(f"no process {marker!r} under the supervisor")

    def kill_pool(self, marker: str) -> int:
        """SIGKILL a worker pool: its main process and its children (its process group)."""
        pid = self.child(marker)
        os.killpg(pid, signal.SIGKILL)
        return pid

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def wait(self, condition: Callable[[], bool], *, timeout: float, what: str) -> float:
        """Wait for `condition`; the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if condition():
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}\n{self.log_text()[-6000:]}"
        )


@contextlib.contextmanager
def running_farm(cluster: Cluster, redis: RedisServer, tmp: Path) -> Iterator[Farm]:
    var = tmp / "var"
    env = {
        **os.environ,
        "FARM_DATABASE_URL": cluster.url,
        "FARM_REDIS_URL": redis.url,
        "FARM_VAR_DIR": str(var),
        "FARM_MEDIA_ROOT": str(var / "media"),
        "FARM_SECRET_KEY": secrets.token_urlsafe(40),
        "FARM_LOG_LEVEL": "WARNING",
    }
    env.pop("FARM_POLL_SECONDS", None)  # production timings, whatever the shell had
    env.pop("FARM_SCHEDULE_SECONDS", None)
    farm = Farm(cluster, redis, env, tmp, free_port())
    farm.manage("migrate", "-v", "0")
    farm.manage("shell", "-c", SETUP)
    log = (tmp / "run_farm.log").open("wb")
    farm.supervisor = subprocess.Popen(
        [sys.executable, "manage.py", "run_farm", "--port", str(farm.port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def web_up() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(farm.url("/accounts/login/"), timeout=5).status_code == 200
            return False

        farm.wait(web_up, timeout=90, what="the web server")
        farm.log_in()
        yield farm
    finally:
        farm.supervisor.send_signal(signal.SIGINT)  # Ctrl-C: the supervisor stops them all
        try:
            farm.supervisor.wait(timeout=40)
        except subprocess.TimeoutExpired:
            farm.supervisor.kill()
            farm.supervisor.wait()
