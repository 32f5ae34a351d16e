from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import trimesh

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
