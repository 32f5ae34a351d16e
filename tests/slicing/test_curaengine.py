"""CuraEngine as an engine, against the real CuraEngine and Cura's own machine definitions:
skipped locally without them, never skipped in CI (CI=true; .ci/run installs cura-engine and
unpacks the definitions from Debian's cura package)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from slicing import curaengine
from slicing.analysis import analyse_file
from slicing.builtin import slice_to_gcode
from slicing.gcode_parse import CURA_PLACEHOLDER_SECONDS
from slicing.limits import SlicingLimits
from slicing.orient import place_on_bed
from slicing.prepare import check_gcode_for_printer, prepare
from slicing.profile import PrintProfile
from slicing.settings import SliceSettings
from tests.slicing.helpers import require_engine

pytestmark = pytest.mark.integration
SETTINGS = SliceSettings()


@pytest.fixture(scope="module")
def require_curaengine() -> None:
    require_engine(curaengine.installed())


@pytest.fixture(scope="module")
def sliced_pair(
    require_curaengine: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same 24 × 18 × 10 mm box, sliced by the built-in engine and by CuraEngine."""
    folder = tmp_path_factory.mktemp("cura-pair")
    box = trimesh.creation.box(extents=(24.0, 18.0, 10.0))
    place_on_bed(box, SETTINGS.bed_mm)
    ours = folder / "ours.gcode"
    slice_to_gcode(box, SETTINGS, ours)
    theirs = curaengine.slice_with_curaengine(box, SETTINGS, folder / "cura.gcode").gcode_path
    return ours, theirs


def header(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()[:20]
    return dict(line.split(":", 1) for line in lines if line.startswith(";") and ":" in line)


def test_the_header_holds_the_real_time_and_filament_not_placeholders(
    sliced_pair: tuple[Path, Path],
) -> None:
    cura = sliced_pair[1]
    analysis = analyse_file(cura)
    fields = header(cura)
    assert int(fields[";TIME"]) != CURA_PLACEHOLDER_SECONDS
    assert int(fields[";TIME"]) == pytest.approx(analysis.seconds, abs=1)
    assert float(fields[";Filament used"].strip().removesuffix("m")) == pytest.approx(
        analysis.filament_mm / 1000, rel=1e-3
    )
    assert float(fields[";MAXZ"]) == pytest.approx(10.0, abs=0.01)
    assert analysis.slicer.startswith("Cura_SteamEngine")


def test_the_part_lands_where_the_plate_put_it_with_the_same_layers(
    sliced_pair: tuple[Path, Path],
) -> None:
    ours, cura = (analyse_file(p) for p in sliced_pair)
    assert cura.layers == ours.layers
    # the far corner of the part (the near one is the start G-code's prime line, in both)
    assert cura.bbox_max[0] == pytest.approx(ours.bbox_max[0], abs=0.5)
    assert cura.bbox_max[1] == pytest.approx(ours.bbox_max[1], abs=0.5)


def test_filament_use_is_within_10_percent_of_the_built_in_engines(
    sliced_pair: tuple[Path, Path],
) -> None:
    ours, cura = (analyse_file(p) for p in sliced_pair)
    assert cura.filament_mm == pytest.approx(ours.filament_mm, rel=0.10)


def test_its_gcode_passes_the_same_printer_checks_as_the_built_in_engines(
    sliced_pair: tuple[Path, Path],
) -> None:
    profile = PrintProfile()
    for path in sliced_pair:
        check_gcode_for_printer(path, profile)  # raises PrepareError when it does not belong
    cura = analyse_file(sliced_pair[1])
    assert cura.hotend_c == SETTINGS.nozzle_temp_c
    assert cura.bed_c == SETTINGS.bed_temp_c


def test_prepare_slices_a_real_mesh_with_curaengine_and_caches_it(
    require_curaengine: None, meshes_dir: Path, tmp_path: Path
) -> None:
    cube = meshes_dir / "XYZ-Cube.stl"
    profile = PrintProfile()
    first = prepare(cube, "mesh", profile, out_dir=tmp_path, engine="curaengine")
    assert first.engine == "CuraEngine"
    assert first.engine_reason == "CuraEngine was chosen for this printer profile"
    assert first.estimate_source == "sliced"
    assert first.stated_seconds is None  # CuraEngine's command line states no time
    assert first.gcode_path is not None
    assert 4 < first.grams_per_copy < 12  # a 20 mm cube, 2 walls and sparse infill
    again = prepare(cube, "mesh", profile, out_dir=tmp_path, engine="curaengine")
    assert again.cached and again.gcode_path == first.gcode_path


def test_a_failing_curaengine_falls_back_to_the_built_in_engine_with_the_reason(
    require_curaengine: None, meshes_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "definitions"
    broken.mkdir()
    (broken / "fdmprinter.def.json").write_text("{ not json")
    limits = SlicingLimits(cura_definitions=broken)
    prepared = prepare(
        meshes_dir / "XYZ-Cube.stl",
        "mesh",
        PrintProfile(),
        out_dir=tmp_path / "out",
        engine="curaengine",
        limits=limits,
    )
    assert prepared.engine == "built-in"
    assert prepared.engine_reason.startswith("CuraEngine failed (CuraEngine failed (exit")
