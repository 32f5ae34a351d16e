"""The digital twin, in plain Python: a simulated farm that asks the real planner.

`scenario.py` reads a scenario (the farm, what happens to it, what arrives; examples in
`scenarios/`), `simulation.py` plays it on a simulated clock and reports. Imports run one way:
the twin uses `farm.scheduling` and `farm.scheduling_bench`, never the other way round.
Nothing in this package imports Django.
"""
