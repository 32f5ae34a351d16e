"""Comparison with PrusaSlicer: skipped locally without it, never skipped in CI (CI=true)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import trimesh

from slicing import prusaslicer
from slicing.analysis import analyse_file
from slicing.builtin import slice_to_gcode
from slicing.orient import place_on_bed
from slicing.prepare import prepare
from slicing.profile import PrintProfile
from slicing.settings import SliceSettings
from tests.slicing.helpers import require_engine

pytestmark = pytest.mark.integration
SETTINGS = SliceSettings()


@pytest.fixture(scope="module")
def require_prusaslicer() -> None:
    installed = prusaslicer.executable() is not None
    require_engine(
        None if installed else "PrusaSlicer is not installed (apt-get install prusa-slicer)"
    )


@pytest.fixture(scope="module")
def sliced_pair(
    require_prusaslicer: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same 24 × 18 × 10 mm box, sliced by the built-in engine and by PrusaSlicer."""
    folder = tmp_path_factory.mktemp("pair")
    box = trimesh.creation.box(extents=(24.0, 18.0, 10.0))
    place_on_bed(box, SETTINGS.bed_mm)
    ours = folder / "ours.gcode"
    slice_to_gcode(box, SETTINGS, ours)
    theirs = prusaslicer.slice_with_prusaslicer(box, SETTINGS, folder / "prusa.gcode").gcode_path
    return ours, theirs


def test_our_estimate_of_prusaslicers_gcode_is_within_5_percent_of_its_own(
    sliced_pair: tuple[Path, Path],
) -> None:
    analysis = analyse_file(sliced_pair[1])
    assert analysis.slicer.startswith("PrusaSlicer")
    assert analysis.stated_seconds is not None
    assert analysis.seconds == pytest.approx(analysis.stated_seconds, rel=0.05)


def test_built_in_filament_use_is_within_10_percent_of_prusaslicers(
    sliced_pair: tuple[Path, Path],
) -> None:
    ours, theirs = (analyse_file(p) for p in sliced_pair)
    assert ours.filament_mm == pytest.approx(theirs.filament_mm, rel=0.10)
    assert ours.layers == theirs.layers


def test_prusaslicers_gcode_passes_our_printer_checks(sliced_pair: tuple[Path, Path]) -> None:
    prepared = prepare(sliced_pair[1], "gcode", PrintProfile())
    assert prepared.nozzle_mm == 0.4
    assert prepared.size_mm[2] == pytest.approx(10.0)


def test_prepare_slices_with_prusaslicer_when_asked(
    require_prusaslicer: None, tmp_path: Path
) -> None:
    path = tmp_path / "cube.stl"
    trimesh.creation.box(extents=(15.0, 15.0, 8.0)).export(path)
    prepared = prepare(path, "mesh", PrintProfile(engine="prusaslicer"), out_dir=tmp_path / "gcode")
    assert prepared.engine == "PrusaSlicer"
    assert prepared.stated_seconds is not None
    assert prepared.seconds_per_copy == pytest.approx(prepared.stated_seconds, rel=0.05)
    grams = 15 * 15 * 8 * 1.24 / 1000
    assert 0.2 * grams < prepared.grams_per_copy < grams
    assert math.isfinite(prepared.seconds_per_copy)
