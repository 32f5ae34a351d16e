"""The Marlin host protocol as pure functions: no I/O, no Django, no clocks.

`lines` frames commands (line numbers, checksums), `responses` parses what the firmware says,
`firmware` reads the M115 capability report, and `window` decides what may be sent next.
"""
