"""The production server itself (gunicorn with farm/gunicorn_conf.py): a gigabyte posted with
no newlines, anonymously, leaves the web's memory where it was."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.management.commands.run_farm import processes

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARM_")}
    env.update({"FARM_VAR_DIR": str(tmp_path), "FARM_WEB_WORKERS": "1"})
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    process = subprocess.Popen(
        processes(port, sites=[])["web"], cwd=ROOT, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                if workers(process.pid):
                    break
            except OSError:
                time.sleep(0.2)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def post_raw(port: int, path: str, size: int) -> bytes:
    """POST `size` bytes of "a" (no newline anywhere) and return the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
        )
        chunk = b"a" * MB
        sent = 0
        try:
            while sent < size:
                sock.sendall(chunk[: min(MB, size - sent)])
                sent += MB
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close once it has answered
        return sock.recv(200).split(b"\r\n")[0]


def test_a_gigabyte_post_leaves_the_web_s_memory_flat(server: tuple[int, int]) -> None:
    port, master = server
    post_raw(port, "/accounts/login/", 1000)  # warm up: the app is loaded
    (worker,) = workers(master)
    before = rss_mb(worker)
    for path in ("/accounts/login/", "/jobs/new/"):
        status = post_raw(port, path, 1024 * MB)
        assert status == b"HTTP/1.1 413 Request Entity Too Large", path
    after = rss_mb(worker)
    assert after - before < 30, f"worker grew from {before:.0f} MB to {after:.0f} MB"
