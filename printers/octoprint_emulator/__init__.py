"""An emulator of OctoPrint's REST API, for load tests and demos: many printers, one process.

Printer n answers under `/printer/<n>` (so a driver reaches it as an OctoPrint behind a reverse
proxy path prefix), and printer 0 also at the root. It emulates the parts of OctoPrint 1.11
the farm's driver uses; the driver's contract tests run against it and against a real
OctoPrint, so the two cannot drift apart unnoticed.
"""
