from __future__ import annotations

import ast
from pathlib import Path

from django.test import override_settings

from farm.slicing_config import slicing_limits
from slicing.limits import DEFAULT_LIMITS, MB

SLICING = Path(__file__).resolve().parents[2] / "slicing"


def test_the_farms_default_settings_give_the_default_limits() -> None:
    assert slicing_limits() == DEFAULT_LIMITS


def test_the_settings_reach_the_limits(tmp_path: Path) -> None:
    with override_settings(
        SLICING_MAX_FILE_MB=3,
        SLICING_MAX_GCODE_MB=4,
        SLICING_ENGINE="builtin",
        PRUSASLICER="/opt/prusa/prusa-slicer",
        SLICING_CACHE_DIR=str(tmp_path),
    ):
        limits = slicing_limits()
    assert limits.max_file_bytes == 3 * MB
    assert limits.max_gcode_bytes == 4 * MB
    assert limits.engine == "builtin"
    assert limits.prusaslicer == "/opt/prusa/prusa-slicer"
    assert limits.cache_dir == tmp_path


def test_slicing_reads_no_environment_and_imports_django_only_in_its_app_config() -> None:
    for path in SLICING.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "django" for m in modules) or path.name == "apps.py"
        # an external engine inherits the worker's environment, with TMPDIR set to the
        # slice's folder (slicing/external.py runs them)
        passes_it_on = path.name == "external.py"
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert "environ" not in attrs or passes_it_on, path
        assert "getenv" not in names, path
