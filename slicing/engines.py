"""Which engine slices a part, and why: the reason is shown on the job."""

from __future__ import annotations

from dataclasses import dataclass

from slicing import prusaslicer
from slicing.limits import DEFAULT_LIMITS, ENGINES, SlicingLimits


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # "builtin" or "prusaslicer"
    reason: str


def choose_engine(requested: str = "auto", limits: SlicingLimits = DEFAULT_LIMITS) -> EngineChoice:
    """`auto` is PrusaSlicer when installed, else the built-in engine. `limits.engine`
    (SLICING_ENGINE) overrides the request. An unknown name is a programming error."""
    requested = (limits.engine or requested or "auto").lower()
    if requested not in ENGINES:
        raise ValueError(f"unknown slicing engine {requested!r} (choose from {', '.join(ENGINES)})")
    has_prusa = prusaslicer.executable(limits.prusaslicer) is not None
    if requested == "builtin":
        return EngineChoice("builtin", "the built-in engine was chosen for this printer profile")
    if requested == "prusaslicer":
        if has_prusa:
            return EngineChoice("prusaslicer", "PrusaSlicer was chosen for this printer profile")
        return EngineChoice(
            "builtin", "PrusaSlicer was chosen but is not installed on this worker: built-in engine"
        )
    if requested == "curaengine":
        return EngineChoice(
            "builtin", "CuraEngine is not supported yet: the built-in engine sliced this part"
        )
    if has_prusa:
        return EngineChoice("prusaslicer", "auto: PrusaSlicer is installed on this worker")
    return EngineChoice("builtin", "auto: PrusaSlicer is not installed, built-in engine")
