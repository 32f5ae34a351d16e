"""A real OctoPrint for contract tests: its own virtual environment, config and process.

The venv lives in var/octoprint-venv (gitignored), or under FARM_TEST_TOOLS_DIR, and is made
once; later runs reuse it.
The server binds 127.0.0.1 on a free port, has its bundled virtual printer enabled, the
first-run wizard, online checks and tracking off, and one admin user whose API key the tests
use. It dies with the test process (PR_SET_PDEATHSIG) even when pytest is killed.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = "octoprint>=1.10,<1.12"
# FARM_OCTOPRINT_SPEC=octoprint==1.9.3 runs the contract tests against another version, in a
# venv of its own next to the default one.
SPEC = os.environ.get("FARM_OCTOPRINT_SPEC", DEFAULT_SPEC)
# Where the venv is made: var/ of the checkout, or FARM_TEST_TOOLS_DIR (.ci/run keeps it
# outside the clean clone, so CI installs OctoPrint once rather than on every run).
TOOLS = Path(os.environ.get("FARM_TEST_TOOLS_DIR") or ROOT / "var")
VENV = TOOLS / (
    "octoprint-venv"
    if SPEC == DEFAULT_SPEC
    else "octoprint-venv-" + re.sub(r"[^A-Za-z0-9.]+", "-", SPEC).strip("-")
)
INSTALL_TIMEOUT_S = 1200
START_TIMEOUT_S = 120


class OctoPrintUnavailable(Exception):
    """OctoPrint could not be installed (no network to PyPI, no venv support)."""


def ensure_venv() -> Path:
    octoprint = VENV / "bin" / "octoprint"
    complete = VENV / ".installed"  # written last: a venv whose install was cut off is made again
    if complete.exists():
        return octoprint
    try:
        shutil.rmtree(VENV, ignore_errors=True)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", SPEC, *_extras(SPEC)],
            check=True,
            capture_output=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise OctoPrintUnavailable(
            f"cannot install {SPEC} into {VENV}: {exc}; {detail.decode(errors='replace')[-500:]}"
        ) from None
    complete.touch()
    return octoprint


def _extras(spec: str) -> list[str]:
    # OctoPrint 1.9 leaves Flask-Limiter's `limits` unpinned, and limits 4+ dropped the rate
    # limiting strategy 1.9 configures, so it crashes at start-up without this pin.
    return ["limits<4"] if "1.9" in spec else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class OctoPrintServer:
    url: str
    api_key: str
    process: subprocess.Popen[bytes]
    basedir: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self) -> str:
        log = self.basedir / "logs" / "octoprint.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def write_config(basedir: Path, port: int, api_key: str, *, autoconnect: bool = True) -> None:
    basedir.mkdir(parents=True, exist_ok=True)
    config = {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "firstRun": False,
            "onlineCheck": {"enabled": False},
            "pluginBlacklist": {"enabled": False},
            "seenWizards": {"corewizard": 4, "tracking": None, "backup": None},
        },
        "plugins": {
            "tracking": {"enabled": False},
            "errortracking": {"enabled": False},
            "virtual_printer": {"enabled": True},
            "_disabled": ["softwareupdate", "announcements", "discovery", "achievements"],
        },
        "serial": {"autoconnect": autoconnect, "port": "VIRTUAL", "baudrate": 115200},
        "printerProfiles": {"default": "_default"},
    }
    users = {
        "farm": {
            "active": True,
            "password": "not-a-login",  # the tests only ever use the API key
            "groups": ["admins", "users"],
            "permissions": [],
            "apikey": api_key,
            "settings": {},
        }
    }
    # JSON is YAML, and needs no YAML library in the farm's own environment.
    (basedir / "config.yaml").write_text(json.dumps(config, indent=2))
    (basedir / "users.yaml").write_text(json.dumps(users, indent=2))


def start(basedir: Path) -> OctoPrintServer:
    """A new OctoPrint, connected to its virtual printer."""
    return _serve(basedir, free_port(), secrets.token_hex(16).upper(), autoconnect=True)


def restart(server: OctoPrintServer) -> OctoPrintServer:
    """The same OctoPrint (port, key, files) stopped and started again, as after a reboot:
    without autoconnect, so it answers but is not connected to its printer ("Closed")."""
    server.stop()
    port = int(server.url.rsplit(":", 1)[1])
    return _serve(server.basedir, port, server.api_key, autoconnect=False)


def _serve(basedir: Path, port: int, api_key: str, *, autoconnect: bool) -> OctoPrintServer:
    octoprint = ensure_venv()
    write_config(basedir, port, api_key, autoconnect=autoconnect)
    process = subprocess.Popen(
        [str(octoprint), "serve", "--basedir", str(basedir), "--host", "127.0.0.1"]
        + ["--port", str(port)]
        # OctoPrint refuses to run as root unless told; CI containers often are root.
        + (["--iknowwhatimdoing"] if os.geteuid() == 0 else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    server = OctoPrintServer(f"http://127.0.0.1:{port}", api_key, process, basedir)
    ready = ("Operational",) if autoconnect else ("Closed", "Offline")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"OctoPrint exited at start-up:\n{server.log_tail()}")
        try:
            r = requests.get(
                f"{server.url}/api/connection", headers={"X-Api-Key": api_key}, timeout=2
            )
            if r.ok and r.json()["current"]["state"] in ready:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"OctoPrint did not come up ({'/'.join(ready)}):\n{server.log_tail()}")
