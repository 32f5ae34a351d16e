"""Turn an uploaded file into what the scheduler needs: time, material, size, and G-code.

This is the one entry point the farm's slicing task calls. A mesh is checked, repaired,
oriented, packed onto a plate and sliced (through the cache); an uploaded G-code is analysed
with the motion model and refused when it does not belong on the printer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trimesh

from slicing import curaengine, prusaslicer, workdir
from slicing.analysis import Analysis, analyse_file, check_for_printer
from slicing.budget import Deadline
from slicing.builtin import slice_to_gcode
from slicing.cache import SliceCache, cache_key, default_dir, file_digest, write_atomically
from slicing.checks import check_and_repair, fits
from slicing.engines import NAMES, EngineChoice, choose_engine
from slicing.errors import EngineError, PartTooLargeError, PrepareError
from slicing.gcode_policy import check_gcode_policy
from slicing.gcode_writer import ENGINE_VERSION
from slicing.limits import DEFAULT_LIMITS, SlicingLimits
from slicing.loader import load_trimesh
from slicing.orient import orient, place_on_bed
from slicing.packing import build_plate, pack
from slicing.profile import PrintProfile
from slicing.settings import SliceSettings
from slicing.supports import gcode_has_supports, needs_supports
from slicing.thin_features import thin_features
from slicing.thumbnail import render_png
from slicing.turntable import render_turntable, turntable_path

Box = tuple[float, float, float]
EXTERNAL_ENGINES = {engine: NAMES[engine] for engine in ("prusaslicer", "curaengine")}


@dataclass(frozen=True)
class Prepared:
    seconds_per_copy: float
    grams_per_copy: float
    size_mm: tuple[float, float, float]
    estimate_source: str  # "gcode" or "sliced"
    gcode_path: Path | None = None
    nozzle_mm: float | None = None  # set when the G-code fixes it
    engine: str = ""
    notes: list[str] = field(default_factory=list)
    engine_reason: str = ""
    copies_per_plate: int = 1  # copies in the one G-code (one print run prints them all)
    thumbnail_path: Path | None = None  # PNG of the oriented part, for the job page
    layers: int = 0
    filament_mm_per_copy: float = 0.0
    stated_seconds: float | None = None  # the slicer's own estimate, for comparison
    cached: bool = False
    # A G-code cannot be moved or turned: the furthest X, Y, Z it prints or travels to (less
    # the margin allowed beyond the bed), which a printer's build volume must reach.
    reach_mm: tuple[float, float, float] | None = None
    # Asked with scale=None: the factor the part was scaled by because its units looked wrong
    # (metres, inches), and its size as drawn, so its owner can be asked to agree.
    scale_hint: float | None = None
    drawn_mm: tuple[float, float, float] | None = None
    repairs: list[str] = field(default_factory=list)  # what was repaired, in words
    # Features narrower than the nozzle (`thin_features`): about how thin, and the share of
    # the layers looked at that have one; None when there are none.
    thin_mm: float | None = None
    thin_share: float = 0.0


def prepare(
    path: Path,
    kind: str,
    profile: PrintProfile,
    *,
    out_dir: Path | None = None,
    copies: int = 1,
    build_volumes: Sequence[Box] = (),
    engine: str | None = None,
    limits: SlicingLimits = DEFAULT_LIMITS,
    name: str | None = None,
    scale: float | None = None,
) -> Prepared:
    """Check and slice (mesh) or analyse (G-code) `path` for a printer with `profile`.

    `scale` is the factor the mesh is drawn at, as its owner chose it (1: as it is). None:
    a part that looks drawn in metres or inches is scaled to millimetres, and the result says
    so (`scale_hint`, `drawn_mm`) for the owner to agree or not.

    `name` is the file's name as the person who uploaded it knows it (refusals say it);
    default: `path`'s own name. What a slice writes on the way is in a folder of its own
    (slicing.workdir), removed when it ends; the slice is refused past `limits.max_seconds`.

    `out_dir` holds the slice cache (default: `limits.cache_dir`, else `gcode/` beside the
    upload). `copies` asks for a plate of up to that many copies; `build_volumes` are every
    printer's (x, y, z) in mm, to refuse parts that fit none (default: this profile's only).
    `engine` overrides `profile.engine` ("auto", "builtin", "prusaslicer"); `limits.engine`
    overrides both. Raises PrepareError with a message for people when the file cannot be
    printed: PartTooLargeError when it does not fit this profile's build volume (a printer
    with a bigger bed may take it), MeshError or GcodeRefused for what is wrong with the file.
    """
    name = name or path.name
    if kind == "gcode":
        return _prepare_gcode(path, profile, limits, name)
    return _prepare_mesh(
        path,
        profile,
        out_dir=out_dir or default_dir(path, limits.cache_dir),
        copies=max(1, copies),
        build_volumes=list(build_volumes) or [profile.build_mm],
        engine=engine or profile.engine,
        limits=limits,
        name=name,
        scale=scale,
    )


def check_gcode_for_printer(path: Path, profile: PrintProfile) -> list[str]:
    """Refuse (PrepareError) a G-code that does not belong on a printer with `profile`: moves
    off its bed (PartTooLargeError), another nozzle size, temperatures for another material.
    Returns warnings. For dispatch, when a job sliced for one profile is about to go to a
    specific printer."""
    return _analyse_for_printer(path, profile)[1]


def _analyse_for_printer(path: Path, profile: PrintProfile) -> tuple[Analysis, list[str]]:
    analysis = analyse_file(path, filament_diameter_mm=profile.filament_diameter_mm)
    warnings = check_for_printer(
        analysis,
        build_mm=profile.build_mm,
        nozzle_mm=profile.nozzle_mm,
        material=profile.material,
    )
    return analysis, warnings


def _prepare_gcode(path: Path, profile: PrintProfile, limits: SlicingLimits, name: str) -> Prepared:
    size = path.stat().st_size
    if size > limits.max_gcode_bytes:
        raise PrepareError(
            f"“{name}” is {size / 1e6:.0f} MB of G-code; the limit is "
            f"{limits.max_gcode_bytes / 1e6:.0f} MB"
        )
    check_gcode_policy(path, name=name)
    analysis, warnings = _analyse_for_printer(path, profile)
    notes = analysis.notes + warnings
    seconds = analysis.seconds
    if analysis.stated_seconds is not None:
        notes.append(
            f"time: {analysis.slicer}'s own estimate {analysis.stated_seconds:.0f} s, "
            f"our motion model {analysis.seconds:.0f} s"
        )
    return Prepared(
        seconds_per_copy=seconds,
        grams_per_copy=analysis.grams(profile.density_g_cm3),
        size_mm=analysis.size_mm,
        estimate_source="gcode",
        gcode_path=path,
        nozzle_mm=analysis.nozzle_mm,
        engine=analysis.slicer,
        notes=notes,
        layers=analysis.layers,
        filament_mm_per_copy=analysis.filament_mm,
        stated_seconds=analysis.stated_seconds,
        reach_mm=analysis.reach_mm(),
    )


def _engine_identity(engine: str, limits: SlicingLimits) -> str:
    if engine in ("prusaslicer", "curaengine"):
        program = limits.prusaslicer if engine == "prusaslicer" else limits.curaengine
        found = prusaslicer.executable(program) or ""
        # the binary's size and mtime change with every upgrade; calling it costs 300 ms
        stat = os.stat(found) if found else None
        return f"{engine}:{found}:{stat.st_size if stat else 0}:{stat.st_mtime if stat else 0}"
    return f"builtin:{ENGINE_VERSION}"


def _prepare_mesh(
    path: Path,
    profile: PrintProfile,
    *,
    out_dir: Path,
    copies: int,
    build_volumes: list[Box],
    engine: str,
    limits: SlicingLimits,
    name: str,
    scale: float | None,
) -> Prepared:
    choice = choose_engine(engine, limits)
    settings = SliceSettings.from_profile(profile)
    cache = SliceCache(out_dir)
    identity = _engine_identity(choice.engine, limits)
    parts = [file_digest(path), settings.digest(), identity, str(copies)]
    if scale is not None:  # the unasked scale keeps the keys cached before owners were asked
        parts.append(f"scale:{scale!r}")
    key = cache_key(*parts)
    # A record from before owners were asked (no "repairs") says nothing of a scale or a
    # repair it made silently: slice again so they are asked.
    if (record := cache.load(key)) is not None and "repairs" in record:
        return _from_record(record, cached=True)
    root = workdir.default_root(out_dir, limits.temp_dir)
    with workdir.slice_dir(root, stale_after_s=2 * limits.max_seconds + 600) as work:
        return _slice_mesh(
            path,
            profile,
            settings,
            cache=cache,
            key=key,
            choice=choice,
            build_volumes=build_volumes,
            copies=copies,
            limits=limits,
            work=work,
            deadline=Deadline(limits.max_seconds, name=name),
            scale=scale,
        )


def _slice_mesh(
    path: Path,
    profile: PrintProfile,
    settings: SliceSettings,
    *,
    cache: SliceCache,
    key: str,
    choice: EngineChoice,
    build_volumes: list[Box],
    copies: int,
    limits: SlicingLimits,
    work: Path,
    deadline: Deadline,
    scale: float | None,
) -> Prepared:
    mesh = load_trimesh(path, limits, name=deadline.name)
    deadline.check("load it")
    drawn = _extents(mesh)
    if scale is not None and scale != 1.0:
        mesh.apply_scale(scale)
    checked = check_and_repair(
        mesh,
        build_volumes=build_volumes,
        nozzle_mm=profile.nozzle_mm,
        suggest_units=scale is None,
    )
    notes = list(checked.notes)
    if scale is not None and scale != 1.0:
        notes.append(f"scaled by {scale:g}, as its owner chose")
    if checked.scale_hint is not None:
        mesh.apply_scale(checked.scale_hint)
        notes.append(f"scaled by {checked.scale_hint:g} to millimetres, for its owner to agree")
        check_and_repair(mesh, build_volumes=build_volumes, nozzle_mm=profile.nozzle_mm)
    deadline.check("check it")
    pose = orient(mesh)
    notes.append(pose.describe())
    deadline.check("orient it")
    _fit_this_printer(mesh, profile.build_mm)
    thin = thin_features(mesh, profile.nozzle_mm)
    x, y, z = (float(v) for v in mesh.extents)
    layout = pack((x, y), settings.bed_mm, wanted=copies)
    if layout.copies == 0:
        raise PrepareError(f"the part ({x:.0f} × {y:.0f} mm) leaves no safe margin on the bed")
    if layout.copies < copies:
        notes.append(f"{layout.copies} of the {copies} copies fit on one plate")
    if layout.copies > 1:
        plate = build_plate(mesh, layout)
    else:
        plate = mesh
        place_on_bed(plate, settings.bed_mm)
    gcode = cache.path(key, ".gcode")
    used_engine, reason = choice.engine, choice.reason
    stated: float | None = None
    asked = settings.supports
    if asked == "auto" and used_engine in EXTERNAL_ENGINES:
        # the other engines are asked for supports wherever needed only when our rule says
        # the part needs them, so every engine decides alike (the built-in one decides itself)
        settings = settings.with_changes(
            supports="everywhere" if needs_supports(plate, settings) else "off"
        )
    if used_engine in EXTERNAL_ENGINES:
        try:
            _slice_external(
                used_engine, plate, settings, gcode, limits, work=work, deadline=deadline
            )
        except EngineError as exc:
            name = EXTERNAL_ENGINES[used_engine]
            used_engine, reason = "builtin", f"{name} failed ({exc}): built-in engine"
    if used_engine in EXTERNAL_ENGINES:
        analysis = analyse_file(gcode, filament_diameter_mm=settings.filament_diameter_mm)
        seconds, filament, layers = analysis.seconds, analysis.filament_mm, analysis.layers
        # CuraEngine's command line states no time of its own (we wrote the header)
        stated = analysis.stated_seconds if used_engine == "prusaslicer" else None
    else:
        result = slice_to_gcode(
            plate,
            settings,
            gcode,
            copies=layout.copies,
            work_dir=work,
            deadline=deadline,
            threads=limits.threads,
        )
        seconds, filament, layers = result.seconds, result.filament_mm, result.layers
    notes += _support_notes(asked, gcode_has_supports(gcode), settings.support_angle_deg)
    # written only once the G-code exists: a refused part leaves nothing behind
    thumbnail = cache.path(key, ".png")
    write_atomically(thumbnail, render_png(mesh, 300, 300))
    # the plate as it prints (oriented, every copy packed), to see before confirming
    write_atomically(turntable_path(thumbnail), render_turntable(plate))
    n = layout.copies
    area = math.pi * (settings.filament_diameter_mm / 2) ** 2
    prepared = Prepared(
        seconds_per_copy=seconds / n,
        grams_per_copy=filament * area * settings.density_g_cm3 / 1000.0 / n,
        size_mm=(x, y, z),
        estimate_source="sliced",
        gcode_path=gcode,
        nozzle_mm=profile.nozzle_mm,
        engine={"prusaslicer": "PrusaSlicer", "curaengine": "CuraEngine"}.get(
            used_engine, "built-in"
        ),
        notes=notes,
        engine_reason=reason,
        copies_per_plate=n,
        thumbnail_path=thumbnail,
        layers=layers,
        filament_mm_per_copy=filament / n,
        stated_seconds=stated / n if stated else None,
        scale_hint=checked.scale_hint,
        drawn_mm=drawn if checked.scale_hint is not None else None,
        repairs=checked.repairs,
        thin_mm=thin.thinnest_mm if thin else None,
        thin_share=thin.layers / thin.sampled if thin else 0.0,
    )
    cache.store(key, _to_record(prepared))
    return prepared


def _support_notes(asked: str, printed: bool, angle_deg: float) -> list[str]:
    """What the quote says of supports: they cost filament and time, and leave marks."""
    where = "standing on the bed only" if asked == "bed" else "wherever needed"
    if printed and asked == "auto":
        return [
            f"supports added under overhangs steeper than {angle_deg:g}°, {where}: "
            "the part needs them (it cannot bridge those overhangs)"
        ]
    if printed:
        return [f"supports under overhangs steeper than {angle_deg:g}°, {where}"]
    if asked in ("bed", "everywhere"):
        return ["supports were asked for, but no overhang of the part as oriented needs them"]
    return []


def _slice_external(
    engine: str,
    plate: trimesh.Trimesh,
    settings: SliceSettings,
    gcode: Path,
    limits: SlicingLimits,
    *,
    work: Path,
    deadline: Deadline,
) -> None:
    """Slice the placed plate with PrusaSlicer or CuraEngine into `gcode` (EngineError)."""
    if engine == "prusaslicer":
        program, slicer = limits.prusaslicer, prusaslicer.slice_with_prusaslicer
    else:
        program = limits.curaengine
        slicer = partial(curaengine.slice_with_curaengine, definitions=limits.cura_definitions)
    slicer(
        plate,
        settings,
        gcode,
        program=program,
        work_dir=work,
        timeout_s=max(1.0, deadline.remaining()),
        memory_bytes=limits.max_memory_bytes,
    )


def _extents(mesh: trimesh.Trimesh) -> Box:
    x, y, z = (float(v) for v in mesh.extents)
    return (x, y, z)


def _fit_this_printer(mesh: trimesh.Trimesh, build: Box) -> None:
    """Turn the part 90° about Z when that makes it fit; refuse it when nothing does."""
    x, y, z = (float(v) for v in mesh.extents)
    if x <= build[0] and y <= build[1] and z <= build[2]:
        return
    if y <= build[0] and x <= build[1] and z <= build[2]:
        mesh.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (0, 0, 1)))
        return
    hint = " (it would fit lying another way)" if fits((x, y, z), build) else ""
    raise PartTooLargeError(
        f"the part, oriented to print well, is {x:.0f} × {y:.0f} × {z:.0f} mm: it does not fit "
        f"this printer's {build[0]:g} × {build[1]:g} × {build[2]:g} mm build volume{hint}."
    )


def _to_record(prepared: Prepared) -> dict[str, Any]:
    record = asdict(prepared)
    for key in ("gcode_path", "thumbnail_path"):
        record[key] = str(record[key]) if record[key] is not None else None
    return record


def _from_record(record: dict[str, Any], *, cached: bool) -> Prepared:
    record = dict(record)
    for key in ("gcode_path", "thumbnail_path"):
        record[key] = Path(record[key]) if record.get(key) else None
    record["size_mm"] = tuple(record["size_mm"])
    if record.get("drawn_mm") is not None:
        record["drawn_mm"] = tuple(record["drawn_mm"])
    record["cached"] = cached
    known = Prepared.__dataclass_fields__
    return Prepared(**{k: v for k, v in record.items() if k in known})
