"""The serial streaming benchmark behind `manage.py bench_serial`.

The simulated boards run in processes of their own (they stand for printers, not for host
work), model the wire time of the baud rate and answer after an ack delay. The host side is
the production code: `PortLink`s in one `SerialHost` selector loop over pyserial.

The wire limit is what the baud rate allows for these exact framed lines (10 bits a byte);
nothing can stream faster, so lines/s divided by it says how much of the wire a mode uses.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from printers.protocol.lines import GcodeProgram, frame
from printers.serialhost.host import SerialHost
from printers.serialhost.link import JobOutcome, PortLink
from printers.serialhost.settings import LinkSettings
from printers.states import DeviceState


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wire_limit(program: GcodeProgram, baud: int) -> float:
    """Lines per second the wire could carry for this program, framed as the host frames it."""
    sent = sum(len(frame(i + 1, c)) for i, c in enumerate(program.commands))
    return len(program.commands) / (sent * 10 / baud)


@dataclass
class Simulators:
    processes: list[subprocess.Popen[str]]
    paths: list[str]

    def stop(self) -> None:
        for p in self.processes:
            if p.stdin:
                p.stdin.close()  # the simulator serves until its stdin closes
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def start_simulators(
    link_dir: Path, *, ports: int, baud: int, ack_delay_ms: float, processes: int = 1
) -> Simulators:
    started = []
    per = -(-ports // processes)
    for first in range(0, ports, per):
        count = min(per, ports - first)
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "printers.firmware_sim", "--ports", str(count)]
                + ["--first", str(first), "--baud", str(baud)]
                + ["--ack-delay-ms", str(ack_delay_ms), "--link-dir", str(link_dir)],
                cwd=settings.BASE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for p in started:
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a firmware simulator did not start")
    return Simulators(started, [str(link_dir / f"ttySIM{i}") for i in range(ports)])


def stream(
    paths: list[str], program: GcodeProgram, *, baud: int, window: int | None
) -> list[float]:
    """Print `program` on every port at once; each port's lines per second."""
    links = [
        PortLink(f"bench{i}", LinkSettings(port=path, baud=baud, window=window))
        for i, path in enumerate(paths)
    ]
    host = SerialHost(links, tick_s=0.01)
    deadline = time.monotonic() + 60
    host.serve(until=lambda: all(x.state is DeviceState.READY for x in links))
    if not all(x.state is DeviceState.READY for x in links) or time.monotonic() > deadline:
        raise RuntimeError("simulated boards did not answer the handshake")
    for link in links:
        link.start_job("bench.gcode", program)
    host.serve(until=lambda: all(x.state is not DeviceState.PRINTING for x in links))
    rates = []
    for link in links:
        job = link.job
        if job is None or job.outcome is not JobOutcome.FINISHED or job.ended_at is None:
            rates.append(0.0)  # a port that dropped out
        else:
            rates.append(job.lines_total / (job.ended_at - job.started_at))
    for link in links:
        if link.port is not None:
            link.port.close()
    return rates


def run_bench(
    program: GcodeProgram,
    multi_program: GcodeProgram,
    *,
    baud: int,
    ports: int,
    ack_delay_ms: float,
    window: int | None,
    sim_processes: int,
) -> dict[str, Any]:
    limit = wire_limit(program, baud)
    result: dict[str, Any] = {
        "baud": baud,
        "lines": len(program.commands),
        "ack_delay_ms": ack_delay_ms,
        "wire_limit_lines_per_s": round(limit, 1),
    }
    with tempfile.TemporaryDirectory(prefix="bench-serial-") as tmp:
        sims = start_simulators(Path(tmp), ports=1, baud=baud, ack_delay_ms=ack_delay_ms)
        try:
            for mode, w in (("one_in_flight", 1), ("windowed", window)):
                rate = stream(sims.paths, program, baud=baud, window=w)[0]
                result[mode] = {"lines_per_s": round(rate, 1), "ratio": round(rate / limit, 3)}
            single = stream(sims.paths, multi_program, baud=baud, window=window)[0]
        finally:
            sims.stop()
    with tempfile.TemporaryDirectory(prefix="bench-serial-") as tmp:
        sims = start_simulators(
            Path(tmp),
            ports=ports,
            baud=baud,
            ack_delay_ms=ack_delay_ms,
            processes=sim_processes,
        )
        try:
            cpu, wall = time.process_time(), time.monotonic()
            sims_cpu = sum(_cpu_seconds(p.pid) for p in sims.processes)
            rates = stream(sims.paths, multi_program, baud=baud, window=window)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            sims_cpu = sum(_cpu_seconds(p.pid) for p in sims.processes) - sims_cpu
        finally:
            sims.stop()
    result["multi_port"] = {
        "ports": ports,
        "lines_per_port": len(multi_program.commands),
        "single_port_lines_per_s": round(single, 1),
        "min_lines_per_s": round(min(rates), 1),
        "median_lines_per_s": round(statistics.median(rates), 1),
        "min_ratio_to_single": round(min(rates) / single, 3),
        "ports_dropped": sum(1 for r in rates if r == 0),
        # How busy the one host process was: the part of a core it used while streaming,
        # and its CPU time per line. The simulators' CPU is reported apart (they stand for
        # the printers). On a shared machine the rates above also depend on everyone else.
        "host_cpu_percent_of_one_core": round(100 * cpu / wall, 1),
        "host_cpu_us_per_line": round(1e6 * cpu / (ports * len(multi_program.commands)), 1),
        "simulators_cpu_percent_of_one_core": round(100 * sims_cpu / wall, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    result["targets_met"] = {
        "windowed_at_least_90pct_of_wire": result["windowed"]["ratio"] >= 0.9,
        "every_port_at_least_90pct_of_single": result["multi_port"]["min_ratio_to_single"] >= 0.9,
    }
    return result
