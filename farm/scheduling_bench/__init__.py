"""Measuring the planner, in plain Python: instances, their generator, plan quality, the bench.

`instance.py` reads and writes planning instances as JSON and generates realistic random ones,
`quality.py` judges a plan independently of how it was made, `bench.py` is what
`manage.py bench_scheduler` runs. Imports run one way: this package uses `farm.scheduling`,
never the other way round. Nothing in this package imports Django.
"""
