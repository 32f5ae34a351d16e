"""The import graph of the project: no circles, and every import runs one way.

Entry points (views, admin, commands, tasks) -> services -> models and the pure modules;
`printers` and `slicing` never import `farm`; the pure algorithms import no Django. Imports
inside functions count too: a lazy import hides a circle, it does not remove it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("farm", "printers", "slicing")
ENTRY_POINTS = ("farm.views", "farm.admin", "farm.management", "farm.tasks", "farm.urls")
PURE = (
    "farm.scheduling",
    "farm.scheduling_bench",
    "farm.twin",
    "farm.site_watch",
    "slicing",
    "printers.protocol",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imported_names(path: Path, module: str, modules: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every module name an import statement anywhere in the file refers to.

    `from package import module` refers to the module, not to the package's `__init__`.
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            full = [f"{base}.{alias.name}" for alias in node.names]
            if not all(name in modules for name in full):
                yield base
            yield from full


def import_graph() -> nx.DiGraph:
    modules = project_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for name in imported_names(path, module, frozenset(modules)):
            if name in modules and name != module:
                graph.add_edge(module, name)
    return graph


GRAPH = import_graph()


def under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_there_is_no_import_circle() -> None:
    circles = [sorted(c) for c in nx.strongly_connected_components(GRAPH) if len(c) > 1]
    assert circles == []


@pytest.mark.parametrize("package", ["printers", "slicing"])
def test_printers_and_slicing_never_import_farm(package: str) -> None:
    wrong = [(a, b) for a, b in GRAPH.edges if under(a, (package,)) and under(b, ("farm",))]
    assert wrong == []


def test_services_and_models_never_import_entry_points() -> None:
    inner = ("farm.services", "farm.models", "farm.statuses", "farm.roles")
    wrong = [(a, b) for a, b in GRAPH.edges if under(a, inner) and under(b, ENTRY_POINTS)]
    assert wrong == []


def test_pure_modules_import_no_django() -> None:
    wrong = []
    for module, path in project_modules().items():
        if under(module, PURE) and not module.endswith(".apps"):
            names = set(imported_names(path, module))
            wrong += [(module, n) for n in names if n == "django" or n.startswith("django.")]
    assert wrong == []


def test_the_walk_sees_the_real_graph() -> None:
    # Guards the test itself: a walk that found no edges would pass every check above.
    assert GRAPH.has_edge("farm.tasks", "farm.services.dispatch")
    assert GRAPH.has_edge("farm.services.dispatch", "farm.services.runs")
    assert GRAPH.number_of_edges() > 200
