"""Services a test starts for itself, so it may stop and restart them: a PostgreSQL cluster
(Debian's PostgreSQL 15 binaries, a temp dir, a free port, run as the `postgres` user) and a
redis-server on a free port. The machine's own PostgreSQL and Redis are never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgres://farm@127.0.0.1:{self.port}/farm"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data)]
            + ["-l", str(self.log), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        self.pg_ctl("-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Cluster]:
    """A fresh cluster with a database `farm` owned by the trusted user `farm`; skips (a
    failure in CI) where the binaries or root are missing."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"no PostgreSQL 15 binaries in {PG_BIN} (or no runuser) to start a cluster")
    if os.geteuid() != 0:
        pytest.skip("starting a PostgreSQL cluster as the postgres user needs root (runuser)")
    root = Path(tempfile.mkdtemp(prefix="farm-pg-"))
    shutil.chown(root, "postgres")
    c = Cluster(root / "data", free_port(), root / "postgres.log")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(c.data)]
        + ["-U", "farm", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    c.start()
    try:
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(c.port), "-U", "farm", "farm"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield c
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class RedisServer:
    """A redis-server of the test's own. It keeps nothing on disk, so a restart loses every
    queued message: the worst case for a broker restart."""

    port: int
    dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.dir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    root = Path(tempfile.mkdtemp(prefix="farm-redis-"))
    server = RedisServer(free_port(), root)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)
