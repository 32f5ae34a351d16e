"""The serial host: one long-lived process streaming G-code to many USB printers.

`link.PortLink` is one printer (the I/O around `printers.protocol`), `host.SerialHost` serves
many links from one selector loop, and `channel` connects it to the rest of the farm: commands
come in through `printers.models.SerialCommand` rows, live status goes out through the cache.
"""
