"""Serve emulated OctoPrints: `python -m printers.octoprint_emulator --printers 100 --port 5050`.

Printer n is at http://127.0.0.1:PORT/printer/n (add it with that URL and the API key).
Binds 127.0.0.1 only; stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys

from printers.octoprint_emulator.server import EmulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m printers.octoprint_emulator")
    parser.add_argument("--printers", type=int, default=10)
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--seconds-per-line", type=float, default=0.05)
    args = parser.parse_args()
    key = args.api_key or secrets.token_hex(16).upper()
    server = EmulatorServer(
        ("127.0.0.1", args.port),
        printers=args.printers,
        api_key=key,
        seconds_per_line=args.seconds_per_line,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write(
        f"{args.printers} emulated OctoPrints at {server.url}/printer/<n>, key {key}\n"
    )
    sys.stdout.flush()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
