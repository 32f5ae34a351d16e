"""Run simulated boards in a process of their own (the benchmark's printers).

    python -m printers.firmware_sim --ports 50 --baud 115200 --ack-delay-ms 1 --link-dir DIR

Prints `ready` when every port is plugged in, then serves until stdin closes (or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from printers.firmware_sim.model import MarlinModel
from printers.firmware_sim.pty_runner import PtyFirmware


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m printers.firmware_sim")
    parser.add_argument("--ports", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="number of the first port")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--ack-delay-ms", type=float, default=1.0)
    parser.add_argument("--no-advanced-ok", action="store_true")
    parser.add_argument("--link-dir", type=Path, required=True)
    args = parser.parse_args()
    firmware = PtyFirmware(
        baud=args.baud, ack_delay_s=args.ack_delay_ms / 1000, link_dir=args.link_dir
    )
    for i in range(args.first, args.first + args.ports):
        firmware.add_port(f"ttySIM{i}", MarlinModel(advanced_ok=not args.no_advanced_ok))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def wait_for_stdin_to_close() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_stdin_to_close, daemon=True).start()
    firmware.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    done.wait()
    firmware.stop()


if __name__ == "__main__":
    main()
