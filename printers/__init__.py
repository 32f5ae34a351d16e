"""Talking to printers: drivers (OctoPrint, serial, simulated), the Marlin protocol, the fleet link.

Never imports `farm`: the farm tells printers what to do, not the other way round.
"""
