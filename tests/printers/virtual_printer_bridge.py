"""OctoPrint's bundled virtual printer (an independent Marlin simulation) behind a pty.

Run with the OctoPrint venv's Python (tests/printers/octoprint_server.py installs it):

    var/octoprint-venv/bin/python tests/printers/virtual_printer_bridge.py DATA_DIR [key=value ...]

Prints the pty's device path, then moves bytes between the pty and the VirtualPrinter's
write()/readline() until stdin closes. Settings are the plugin's defaults, overridden by the
key=value arguments (e.g. resend_ratio=10, okAfterResend=true).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import tty
from typing import Any


class _Settings:
    """The plugin settings object the virtual printer reads, over a plain dict."""

    def __init__(self, values: dict[str, Any], folder: str) -> None:
        self.values = values
        self.folder = folder

    def global_get_basefolder(self, name: str) -> str:
        path = os.path.join(self.folder, name)
        os.makedirs(path, exist_ok=True)
        return path

    def get(self, path: list[str], merged: bool = False) -> Any:
        value: Any = self.values
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def get_boolean(self, path: list[str]) -> bool:
        return bool(self.get(path))

    def get_int(self, path: list[str]) -> int | None:
        value = self.get(path)
        return int(value) if value is not None else None

    def get_float(self, path: list[str]) -> float | None:
        value = self.get(path)
        return float(value) if value is not None else None


class _NoPlugins:
    def get_hooks(self, name: str) -> dict[str, Any]:
        return {}


class _Profiles:
    def get_current_or_default(self) -> dict[str, Any]:
        return {"volume": {"width": 200, "depth": 200, "height": 200, "origin": "lowerleft"}}


def main() -> None:
    from octoprint.plugins import virtual_printer
    from octoprint.plugins.virtual_printer import virtual

    virtual.plugin_manager = _NoPlugins  # no OctoPrint server around it: no plugin hooks
    values = virtual_printer.VirtualPrinterPlugin.get_settings_defaults(None)
    for arg in sys.argv[2:]:
        key, _, raw = arg.partition("=")
        values[key] = json.loads(raw)
    printer = virtual.VirtualPrinter(
        _Settings(values, sys.argv[1]), _Profiles(), data_folder=sys.argv[1], read_timeout=0.2
    )
    master, slave = os.openpty()
    tty.setraw(slave)
    sys.stdout.write(os.ttyname(slave) + "\n")
    sys.stdout.flush()

    def host_to_printer() -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                printer.write(line + b"\n")

    def printer_to_host() -> None:
        while True:
            line = printer.readline()
            if line:
                # OctoPrint's reader does not need the newline, so the simulator may omit it.
                os.write(master, line if line.endswith(b"\n") else line + b"\n")

    for target in (host_to_printer, printer_to_host):
        threading.Thread(target=target, daemon=True).start()
    sys.stdin.read()
    printer.close()


if __name__ == "__main__":
    main()
