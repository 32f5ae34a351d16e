"""The fleet benchmark: thousands of emulated OctoPrints, the real fleet link, PostgreSQL + Redis.

`run()` is called by `manage.py bench_fleet` inside a bench database of its own (see the
command). It starts the emulator (`python -m printers.octoprint_emulator`, one process) and
adds its printers to the farm, a share of them offline (half refused, half black-holed), then
starts `manage.py fleetlink` as production runs it and waits until the link has seen every
online printer. For `seconds` it then makes state changes happen at the printers
(`/_emulator/inject`: a print starts, finishes or is cancelled) and watches, from outside,
when each one reaches the farm's cache (the printer's live entry says the new state) and its
database (the printer's row does). It reports those delays, the fleet link's CPU (from
/proc) and peak memory, and the database's writes (pg_stat_database) over the same time.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from farm.models import Material, Printer, Site
from farm.services.observation import live_key
from printers.secrets import encrypt

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 600.0
SETTLE_S = 30.0  # after the last change, how long unseen changes are still waited for
TICK_S = 0.05
EXPECTED = {"start": "printing", "finish": "finished", "cancel": "ready"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1], 3)}


class Proc:
    """CPU seconds and peak memory of a child process, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0


class Procs:
    """Several fleet links (one per shard) as one: CPU summed, the largest peak memory."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [Proc(pid) for pid in pids]

    def cpu_s(self) -> float:
        return sum(p.cpu_s() for p in self.procs)

    def peak_rss_mb(self) -> float:
        return max(p.peak_rss_mb() for p in self.procs)


def db_counters() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = current_database()"
        )
        commits, inserted, updated, deleted = cursor.fetchone()
    return {"commits": commits, "rows": inserted + updated + deleted}


def emulator_requests(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/_emulator/stats", timeout=60) as response:
        counts: dict[str, int] = json.loads(response.read())["requests"]
    return counts


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


@dataclass
class _Change:
    pk: int
    expected: str
    at: float
    cache_s: float | None = None  # when the bench found the live entry changed
    seen_s: float | None = None  # the live entry's own time: when the link saw the change
    db_s: float | None = None  # the row's state_changed_at, set as the link records it


class _Watch(threading.Thread):
    """Looks, every TICK_S, for the changes still pending: in the cache (the live entry has the
    new state) and, every 0.1 s, in the database (the row has it). A thread of its own, so
    the injections' round trips never delay a look."""

    def __init__(self) -> None:
        super().__init__(name="bench-watch", daemon=True)
        self.lock = threading.Lock()
        self.pending_cache: dict[int, _Change] = {}
        self.pending_db: dict[int, _Change] = {}
        self.done: list[_Change] = []
        self.bench_queries = 0
        self.stopping = threading.Event()

    def add(self, change: _Change) -> None:
        with self.lock:
            self.pending_cache[change.pk] = change
            self.pending_db[change.pk] = change

    def busy(self) -> set[int]:
        with self.lock:
            return set(self.pending_cache) | set(self.pending_db)

    def run(self) -> None:
        last_db = 0.0
        try:
            while not self.stopping.is_set():
                began = time.monotonic()
                database = began - last_db >= 0.1
                self.look(database=database)
                if database:
                    last_db = began
                self.stopping.wait(max(0.0, TICK_S - (time.monotonic() - began)))
        finally:
            connection.close()

    def look(self, *, database: bool) -> None:
        with self.lock:
            in_cache, in_db = list(self.pending_cache), list(self.pending_db)
        if in_cache:
            found = cache.get_many([live_key(pk) for pk in in_cache])
            now = time.time()
            with self.lock:
                for pk in in_cache:
                    change, live = self.pending_cache[pk], found.get(live_key(pk))
                    if live and live.get("state") == change.expected:
                        change.cache_s = now - change.at
                        seen = datetime.datetime.fromisoformat(live["at"]).timestamp()
                        change.seen_s = seen - change.at
                        del self.pending_cache[pk]
        if database and in_db:
            self.bench_queries += 1
            rows = Printer.objects.filter(pk__in=in_db).values_list(
                "pk", "state", "state_changed_at"
            )
            with self.lock:
                for pk, state, changed_at in rows:
                    change = self.pending_db[pk]
                    if state == change.expected and changed_at is not None:
                        change.db_s = changed_at.timestamp() - change.at
                        del self.pending_db[pk]
                        self.done.append(change)


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_for(done: Any, timeout: float, what: str, process: subprocess.Popen[bytes]) -> float:
    began = time.monotonic()
    while not done():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - began


def _seed(manifest: dict[str, Any]) -> dict[int, int]:
    """The emulated printers as the farm's printers; emulator number -> printer id."""
    site, _ = Site.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    pla, _ = Material.objects.get_or_create(name="PLA")
    secret = encrypt(manifest["api_key"])
    rows = [
        Printer(
            name=f"bench-{row['n']:05d}",
            site=site,
            model="emulated",
            material=pla,
            colour="black",
            connection_kind="octoprint",
            connection_settings={"url": row["url"]},
            secret_encrypted=secret,
            state="ready" if row["mode"] == "online" else "offline",
        )
        for row in manifest["printers"]
    ]
    created = Printer.objects.bulk_create(rows, batch_size=2000)
    return {row["n"]: p.pk for row, p in zip(manifest["printers"], created, strict=True)}


def run(
    *,
    printers: int,
    seconds: float,
    offline_share: float,
    rate: float,
    workdir: Path,
    shards: int = 1,
) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    port = free_port()
    key = "BENCH" + os.urandom(8).hex().upper()
    env = dict(os.environ)
    python = sys.executable
    emulator_command = [
        python, "-m", "printers.octoprint_emulator", f"--printers={printers}", f"--port={port}",
        f"--api-key={key}", "--connected", f"--offline-share={offline_share / 2}",
        f"--blackhole-share={offline_share / 2}",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with _process(emulator_command, env, workdir / "emulator.log") as emulator:
        _wait_for(
            lambda: "emulated OctoPrints" in (workdir / "emulator.log").read_text(),
            60,
            "the emulator",
            emulator,
        )
        with urllib.request.urlopen(f"{base}/_emulator/printers", timeout=60) as response:
            manifest = json.loads(response.read())
        ids = _seed(manifest)
        cache.delete_many([live_key(pk) for pk in ids.values()])  # an earlier run's entries
        online = [row["n"] for row in manifest["printers"] if row["mode"] == "online"]
        modes = [row["mode"] for row in manifest["printers"]]
        online_keys = [live_key(ids[n]) for n in online]
        with contextlib.ExitStack() as links:
            started = [
                links.enter_context(
                    _process(
                        [python, str(ROOT / "manage.py"), "fleetlink", f"--shard={i}/{shards}"],
                        env,
                        workdir / f"fleetlink-{i}.log",
                    )
                )
                for i in range(shards)
            ]
            link = started[0]

            def all_seen() -> bool:
                found = cache.get_many(online_keys)
                return len(found) == len(online_keys) and all(
                    v.get("state") == "ready" for v in found.values()
                )

            def all_pushing() -> bool:
                with urllib.request.urlopen(f"{base}/_emulator/stats", timeout=60) as response:
                    return bool(json.loads(response.read())["push_sockets"] >= len(online))

            seen_s = _wait_for(all_seen, STARTUP_TIMEOUT_S, "every online printer", link)
            startup_s = _wait_for(all_pushing, STARTUP_TIMEOUT_S, "every push socket", link)
            time.sleep(2.0)  # the start-up's last writes out of the way
            report = _measure(
                base, ids, online, seconds=seconds, rate=rate,
                link=Procs([p.pid for p in started]), emulator=Proc(emulator.pid),
            )  # fmt: skip
            report["startup_all_seen_s"] = round(seen_s, 1)
            report["startup_all_on_push_s"] = round(seen_s + startup_s, 1)
            report["fleet_link_alive"] = all(p.poll() is None for p in started)
            report["fleet_link_processes"] = shards
    report.update(
        printers=printers,
        printers_online=len(online),
        printers_refused=modes.count("offline"),
        printers_black_holed=modes.count("blackhole"),
        load_average_before=[round(x, 2) for x in load_before],
        push_throttle=settings.FARM_PUSH_THROTTLE,
    )
    cache.delete_many([live_key(pk) for pk in ids.values()])
    return report


def _measure(
    base: str, ids: dict[int, int], online: list[int], *, seconds: float, rate: float,
    link: Procs, emulator: Proc,
) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(7)
    printing: set[int] = set()
    watch = _Watch()
    by_pk = {pk: n for n, pk in ids.items()}
    counters, link_cpu, emulator_cpu = db_counters(), link.cpu_s(), emulator.cpu_s()
    served = emulator_requests(base)
    began = time.monotonic()
    injected, due = 0, 0.0
    watch.start()
    while True:
        now_m = time.monotonic()
        elapsed = now_m - began
        busy = {by_pk[pk] for pk in watch.busy()}
        if elapsed >= seconds:
            if not busy or elapsed > seconds + SETTLE_S:
                break
            time.sleep(TICK_S)
            continue
        due += rate * TICK_S
        count, due = int(due), due - int(due)
        chosen: set[int] = set()
        while len(chosen) < min(count, len(online) - len(busy)):
            n = online[rng.randrange(len(online))]
            if n not in busy:
                chosen.add(n)
        batches = {
            "start": [n for n in chosen if n not in printing],
            "finish": [n for n in chosen if n in printing and n % 2 == 0],
            "cancel": [n for n in chosen if n in printing and n % 2 == 1],
        }
        for action, batch in batches.items():
            if not batch:
                continue
            answer = post(f"{base}/_emulator/inject", {"printers": batch, "action": action})
            for n in answer["applied"]:
                watch.add(_Change(ids[n], EXPECTED[action], float(answer["at"])))
                (printing.add if action == "start" else printing.discard)(n)
                injected += 1
        time.sleep(max(0.0, TICK_S - (time.monotonic() - now_m)))
    watch.stopping.set()
    watch.join()
    window = min(time.monotonic() - began, seconds + SETTLE_S)
    after = db_counters()
    served_after = emulator_requests(base)
    changes = watch.done + list(watch.pending_db.values())
    cache_delays = [c.cache_s for c in changes if c.cache_s is not None]
    seen_delays = [c.seen_s for c in changes if c.seen_s is not None]
    return {
        "seconds": seconds,
        "changes_per_second": rate,
        "changes_injected": injected,
        "changes_seen_in_cache": len(cache_delays),
        "changes_seen_in_database": len(watch.done),
        "cache_delay_s": percentiles(cache_delays),
        "link_saw_it_after_s": percentiles(seen_delays),
        "database_delay_s": percentiles([c.db_s for c in watch.done if c.db_s is not None]),
        "fleet_link_cpu_cores": round((link.cpu_s() - link_cpu) / window, 3),
        "fleet_link_peak_rss_mb": link.peak_rss_mb(),  # of the largest, with --shards
        "emulator_cpu_cores": round((emulator.cpu_s() - emulator_cpu) / window, 3),
        "database_rows_written_per_s": round((after["rows"] - counters["rows"]) / window, 1),
        "database_commits_per_s": round(
            (after["commits"] - counters["commits"] - watch.bench_queries) / window, 1
        ),
        "measured_over_s": round(window, 1),
        # What the link asked the emulator meanwhile: status reads (an event's, or a poll's)
        # and log-ins (each a push socket opened again).
        "link_status_reads": served_after.get("/api/job", 0) - served.get("/api/job", 0),
        "link_push_reconnects": served_after.get("/api/login", 0) - served.get("/api/login", 0),
    }
