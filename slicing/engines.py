"""Which engine slices a part, and why: the reason is shown on the job."""

from __future__ import annotations

from dataclasses import dataclass

from slicing import curaengine, prusaslicer
from slicing.limits import DEFAULT_LIMITS, ENGINES, SlicingLimits

NAMES = {"builtin": "the built-in engine", "prusaslicer": "PrusaSlicer", "curaengine": "CuraEngine"}


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # "builtin", "prusaslicer" or "curaengine"
    reason: str


def missing(engine: str, limits: SlicingLimits) -> str | None:
    """Why `engine` cannot slice on this worker, or None when it can."""
    if engine == "prusaslicer" and prusaslicer.executable(limits.prusaslicer) is None:
        return "PrusaSlicer is not installed on this worker"
    if engine == "curaengine":
        return curaengine.installed(limits.curaengine, limits.cura_definitions)
    return None


def choose_engine(requested: str = "auto", limits: SlicingLimits = DEFAULT_LIMITS) -> EngineChoice:
    """`auto` is the best engine installed: PrusaSlicer (its output matches the built-in
    engine's settings line for line and prints best in `bench_slicing`), then CuraEngine, then
    the built-in engine. `limits.engine` (SLICING_ENGINE) overrides the request. An unknown
    name is a programming error."""
    requested = (limits.engine or requested or "auto").lower()
    if requested not in ENGINES:
        raise ValueError(f"unknown slicing engine {requested!r} (choose from {', '.join(ENGINES)})")
    if requested == "builtin":
        return EngineChoice("builtin", "the built-in engine was chosen for this printer profile")
    if requested != "auto":
        name = NAMES[requested]
        why = missing(requested, limits)
        if why is None:
            return EngineChoice(requested, f"{name} was chosen for this printer profile")
        return EngineChoice(
            "builtin", f"{name} was chosen but cannot slice here ({why}): built-in engine"
        )
    skipped: list[str] = []
    for engine in ("prusaslicer", "curaengine"):
        why = missing(engine, limits)
        if why is None:
            also = f" ({'; '.join(skipped)})" if skipped else ""
            return EngineChoice(engine, f"auto: {NAMES[engine]} is installed on this worker{also}")
        skipped.append(why)
    return EngineChoice("builtin", f"auto: {'; '.join(skipped)}: built-in engine")
