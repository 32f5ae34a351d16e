from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
import trimesh

from slicing import preview
from slicing.builtin import slice_to_gcode
from slicing.orient import place_on_bed
from slicing.preview import gcode_layer_svg
from slicing.settings import SliceSettings
from slicing.thumbnail import render_png


def test_it_draws_a_layer_as_svg_coloured_by_feature(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(16.0, 12.0, 3.0))
    settings = SliceSettings()
    place_on_bed(box, settings.bed_mm)
    out = tmp_path / "box.gcode"
    slice_to_gcode(box, settings, out)
    svg = gcode_layer_svg(out, 5)
    root = ElementTree.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert titles[0] == "layer 6 of 15, Z 1.2 mm"
    assert {"External perimeter", "Perimeter"} <= set(titles)


def test_it_renders_a_png_thumbnail_of_the_mesh() -> None:
    png = render_png(trimesh.creation.icosphere(radius=10.0), 64, 48)
    assert png.startswith(b"\x89PNG")
    assert png[16:24] == (64).to_bytes(4, "big") + (48).to_bytes(4, "big")


def sliced_box(tmp_path: Path) -> Path:
    box = trimesh.creation.box(extents=(16.0, 12.0, 3.0))
    settings = SliceSettings()
    place_on_bed(box, settings.bed_mm)
    out = tmp_path / "box.gcode"
    slice_to_gcode(box, settings, out)
    return out


def test_the_first_preview_keeps_an_index_and_later_ones_read_only_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gcode = sliced_box(tmp_path)
    first = gcode_layer_svg(gcode, 5)
    assert (tmp_path / "box.gcode.layers.npz").is_file()
    # the G-code is not read again: a parser that would fail shows it
    monkeypatch.setattr(preview, "parse_gcode", lambda handle: pytest.fail("parsed again"))
    assert gcode_layer_svg(gcode, 5) == first
    assert "layer 15 of 15" in gcode_layer_svg(gcode, 14)
    with pytest.raises(IndexError):
        gcode_layer_svg(gcode, 15)


def test_a_changed_or_torn_index_is_made_again(tmp_path: Path) -> None:
    gcode = sliced_box(tmp_path)
    index = tmp_path / "box.gcode.layers.npz"
    gcode_layer_svg(gcode, 0)
    index.write_bytes(b"torn")
    assert "layer 1 of 15" in gcode_layer_svg(gcode, 0)
    # the file changes (a new slice under the same name): its old index is not used
    gcode.write_text("G28\nG1 Z0.2 F600\nG1 X10 Y10 E1 F1200\nG1 X20 Y10 E1\n")
    assert "layer 1 of 1" in gcode_layer_svg(gcode, 0)
