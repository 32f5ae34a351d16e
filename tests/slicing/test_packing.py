from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from slicing import prusaslicer
from slicing.engines import EngineChoice, choose_engine
from slicing.errors import PrepareError
from slicing.limits import SlicingLimits
from slicing.packing import build_plate, pack

BED = (250.0, 210.0)


def test_it_fills_the_bed_with_small_parts() -> None:
    layout = pack((20.0, 20.0), BED)
    # 240 / 26 -> 9 columns, 200 / 26 -> 7 rows (6 mm gaps, 5 mm edges)
    assert layout.copies == 63


def test_it_turns_a_long_part_when_that_fits_more() -> None:
    layout = pack((200.0, 30.0), (200.0, 250.0))
    assert layout.turned
    assert layout.copies == 5  # (190 + 6) // (30 + 6) across, one row deep


def test_it_places_only_the_copies_wanted_centred_and_apart() -> None:
    layout = pack((20.0, 20.0), BED, wanted=3)
    assert layout.copies == 3
    xs = sorted(x for x, _ in layout.centres)
    assert xs[1] - xs[0] >= 26.0 - 1e-9
    assert sum(xs) / 3 == 125.0


def test_a_part_bigger_than_the_bed_fits_no_copies() -> None:
    assert pack((260.0, 20.0), BED).copies == 0


def test_a_plate_holds_every_copy_without_overlap() -> None:
    part = trimesh.creation.box(extents=(20.0, 20.0, 10.0))
    plate = build_plate(part, pack((20.0, 20.0), BED, wanted=4))
    assert plate.body_count == 4
    assert plate.bounds[0][2] == 0.0
    assert plate.volume == 4 * part.volume


def test_the_built_in_engine_can_be_chosen_explicitly() -> None:
    choice = choose_engine("builtin")
    assert choice.engine == "builtin"
    assert "built-in" in choice.reason


def test_auto_takes_the_best_installed_engine_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "fdmprinter.def.json").write_text("{}")
    with_cura = SlicingLimits(curaengine="/bin/true", cura_definitions=definitions)
    no_cura = SlicingLimits(curaengine="/nonexistent/CuraEngine")
    monkeypatch.setattr(prusaslicer, "executable", lambda program: "/usr/bin/prusa-slicer")
    assert choose_engine("auto", with_cura).engine == "prusaslicer"
    monkeypatch.setattr(prusaslicer, "executable", lambda program: None)
    choice = choose_engine("auto", with_cura)
    assert choice == EngineChoice(
        "curaengine",
        "auto: CuraEngine is installed on this worker "
        "(PrusaSlicer is not installed on this worker)",
    )
    choice = choose_engine("auto", no_cura)
    assert choice.engine == "builtin"
    assert "PrusaSlicer is not installed" in choice.reason
    assert "CuraEngine is not installed" in choice.reason


def test_it_looks_for_the_configured_prusaslicer(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(prusaslicer, "executable", lambda program: asked.append(program))
    choose_engine("auto", SlicingLimits(prusaslicer="/opt/prusa/bin/prusa-slicer"))
    assert asked == ["/opt/prusa/bin/prusa-slicer"]


def test_the_configured_engine_overrides_the_profile() -> None:
    choice = choose_engine("prusaslicer", SlicingLimits(engine="builtin"))
    assert choice.engine == "builtin"
    assert "built-in engine was chosen" in choice.reason


def test_an_unknown_engine_is_a_programming_error_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="unknown slicing engine 'cura'") as failed:
        choose_engine("cura")
    assert not isinstance(failed.value, PrepareError)


def test_curaengine_falls_back_to_the_built_in_engine_with_a_reason(tmp_path: Path) -> None:
    choice = choose_engine("curaengine", SlicingLimits(curaengine="/nonexistent/CuraEngine"))
    assert choice.engine == "builtin"
    assert choice.reason == (
        "CuraEngine was chosen but cannot slice here "
        "(CuraEngine is not installed (apt-get install cura-engine)): built-in engine"
    )
    without_definitions = SlicingLimits(curaengine="/bin/true", cura_definitions=tmp_path)
    choice = choose_engine("curaengine", without_definitions)
    assert choice.engine == "builtin"
    assert "machine definitions" in choice.reason
