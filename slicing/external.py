"""An external slicer (PrusaSlicer, CuraEngine) run as a child process, watched as it runs:
its wall time, its own peak memory, a time-out and a memory limit that kill it."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from slicing.errors import EngineError
from slicing.limits import MB

TAIL_BYTES = 16 * 1024  # of the engine's output: enough for its last error lines


@dataclass(frozen=True)
class ExternalResult:
    gcode_path: Path
    seconds_wall: float
    peak_memory_mb: float  # the slicer process's own high-water mark (VmHWM)


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM of a live process in MB. Unlike ru_maxrss it is reset by exec, so a child does
    not inherit the parent's peak (Linux only; 0 elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def run_engine_process(
    command: list[str], cwd: str, *, name: str, timeout_s: float, memory_bytes: int = 0
) -> tuple[int, str, float]:
    """Run `command` in `cwd` (its TMPDIR too), sampling its peak memory until it exits:
    (exit code, the last of its output, peak MB). Killed past `timeout_s`, or past `memory_bytes` resident
    (0: no limit), raising EngineError."""
    started = time.monotonic()
    peak = 0.0
    env = {**os.environ, "TMPDIR": cwd, "TMP": cwd, "TEMP": cwd}
    log = Path(cwd) / "engine.log"
    # Output to a file, not a pipe: CuraEngine echoes every setting (some 60 kB), and a
    # child that fills a pipe nobody reads until it exits waits for ever.
    with (
        log.open("w+b") as out,
        subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        ) as process,
    ):
        while process.poll() is None:
            peak = max(peak, peak_rss_mb(process.pid))
            if time.monotonic() - started > timeout_s:
                process.kill()
                raise EngineError(f"{name} took over {timeout_s:.0f} s", permanent=False)
            if memory_bytes and peak * MB > memory_bytes:
                process.kill()
                raise EngineError(
                    f"{name} needed more than {memory_bytes / MB:,.0f} MB", permanent=True
                )
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
        out.seek(max(0, out.seek(0, os.SEEK_END) - TAIL_BYTES))
        output = out.read().decode(errors="replace")
    return process.returncode, output, peak
