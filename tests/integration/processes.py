"""Start the farm's real processes (Celery worker, fleet link) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from farm.management.commands.run_farm import processes, site_slugs, worker_queues

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_database_url() -> str:
    """The URL of the database the tests are using, for the processes we start."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["FARM_DATABASE_URL"] = test_database_url()
    env["FARM_VAR_DIR"] = str(settings.VAR_DIR)
    env["FARM_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env.update(extra)
    return env


def purge_queues() -> None:
    queues = f"slicing,{worker_queues(site_slugs())}"
    subprocess.run(
        [str(BIN / "celery"), "-A", "farm", "purge", "-f", "-Q", queues],
        cwd=ROOT,
        env=process_env(),
        check=False,
        capture_output=True,
        timeout=60,
    )


@contextmanager
def farm_processes(log_dir: Path, **env: str) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The real Celery worker pools (slicing; dispatch and default; not eager mode) and a fleet
    link, stopped on the way out."""
    farm = processes(port=0)  # the commands `make run` starts, less the web server and beat
    commands = {
        pool: [*farm[pool][:-2], "-n", f"test-{pool}-{os.getpid()}@%h", "--loglevel", "INFO"]
        for pool in ("slicing", "worker")
    }
    commands["fleetlink"] = farm["fleetlink"]
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.log").open("wb")
            children[name] = subprocess.Popen(
                command, cwd=ROOT, env=process_env(**env), stdout=log, stderr=subprocess.STDOUT
            )
        yield children
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, logs: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    detail = ""
    if logs is not None:
        for path in sorted(logs.glob("*.log")):
            detail += f"\n--- {path.name} ---\n" + path.read_text(errors="replace")[-3000:]
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
