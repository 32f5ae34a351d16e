"""Kept only for `farm/management/commands/bench_slicing.py`, which imports MeshError from here.

Delete this module once that import reads `from slicing.errors import MeshError`.
"""

from __future__ import annotations

from slicing.errors import MeshError

__all__ = ["MeshError"]
