"""Serve emulated OctoPrints: `python -m printers.octoprint_emulator --printers 100 --port 5050`.

Printer n is at http://127.0.0.1:PORT/printer/n (add it with that URL and the API key); with
fault shares, `GET /_emulator/printers` says where each one is. Binds 127.0.0.1 only; stops on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from printers.octoprint_emulator.faults import Faults
from printers.octoprint_emulator.server import EmulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m printers.octoprint_emulator")
    parser.add_argument("--printers", type=int, default=10)
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--seconds-per-line", type=float, default=0.05)
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulated s per real s")
    parser.add_argument(
        "--connected", action="store_true", help="printers start connected (autoconnect)"
    )
    parser.add_argument("--offline-share", type=float, default=0.0, help="connection refused")
    parser.add_argument("--blackhole-share", type=float, default=0.0, help="never answer")
    parser.add_argument("--slow-share", type=float, default=0.0)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--conflict-share", type=float, default=0.0, help="409s")
    parser.add_argument("--drop-share", type=float, default=0.0, help="dropped connections")
    args = parser.parse_args()
    key = args.api_key or secrets.token_hex(16).upper()
    faults = Faults(
        offline_share=args.offline_share,
        blackhole_share=args.blackhole_share,
        slow_share=args.slow_share,
        slow_seconds=args.slow_seconds,
        conflict_share=args.conflict_share,
        drop_share=args.drop_share,
    )
    server = EmulatorServer(
        ("127.0.0.1", args.port),
        printers=args.printers,
        api_key=key,
        faults=faults,
        time_scale=args.time_scale,
        seconds_per_line=args.seconds_per_line,
        connected=args.connected,
    )
    sys.stdout.write(
        f"{args.printers} emulated OctoPrints at {server.url}/printer/<n>, key {key}\n"
    )
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
