"""Shared fixtures: users named for their role, a small farm built through the real services.

With CI=true an integration test may not skip: a skip there means the real service the test
needs was not reached, which is a failure of the CI set-up, not a pass.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile

from farm.models import Material, Printer, Site
from farm.roles import EMPLOYEE, OPERATOR

CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that drives Chromium (tests/browser.py) is marked `browser`: CI runs it once, on
    # the embedded default, not again on PostgreSQL + Redis, where the page is the same and
    # the browser is the slow part.
    #
    # A test that uses the farm's database or its Redis is marked `backends`: CI runs those
    # integration tests again on PostgreSQL + Redis. The others (a slicer binary, an
    # OctoPrint driver against a real server) do the same whatever the farm's database.
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "chromium" in names:
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(names):
            item.add_marker(pytest.mark.backends)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, Any]:
    report: Any = yield
    if CI and report.skipped and item.get_closest_marker("integration"):
        report.outcome = "failed"
        report.longrepr = f"integration test skipped in CI (CI=true): {report.longrepr}"
    return report


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # Live printer state and the "pass pending" flag must not leak from one test to the next.
    from django.core.cache import cache

    from farm.services.incremental import forget_engine

    cache.clear()
    forget_engine()  # the engine a worker keeps between decisions


def _user(username: str, group: str | None = None, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, **extra)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def alice(db: Any) -> User:
    return _user("alice", EMPLOYEE)


@pytest.fixture
def bob(db: Any) -> User:
    return _user("bob", EMPLOYEE)


@pytest.fixture
def operator(db: Any) -> User:
    return _user("olga", OPERATOR)


@pytest.fixture
def admin_user(db: Any) -> User:
    return _user("root", None, is_staff=True, is_superuser=True)


@pytest.fixture
def site(db: Any) -> Site:
    return Site.objects.create(name="Berlin", slug="berlin", timezone="Europe/Berlin")


@pytest.fixture
def pla(db: Any) -> Material:
    return Material.objects.create(name="PLA")


@pytest.fixture
def make_printer(site: Site, pla: Material) -> Any:
    def make(name: str = "p1", **fields: Any) -> Printer:
        values: dict[str, Any] = {
            "site": site,
            "model": "Prusa MK4",
            "material": pla,
            "colour": "black",
            "connection_kind": "simulated",
            "connection_settings": {"speedup": 1e9},  # prints end at once
            "state": "ready",
        }
        values.update(fields)
        return Printer.objects.create(name=name, **values)

    return make


CUBE_STL = (
    b"solid cube\n"
    + b"".join(
        b"facet normal 0 0 0\nouter loop\n"
        + b"".join(b"vertex %d %d %d\n" % v for v in tri)
        + b"endloop\nendfacet\n"
        for tri in [
            ((0, 0, 0), (20, 20, 0), (20, 0, 0)),
            ((0, 0, 0), (0, 20, 0), (20, 20, 0)),
            ((0, 0, 20), (20, 0, 20), (20, 20, 20)),
            ((0, 0, 20), (20, 20, 20), (0, 20, 20)),
            ((0, 0, 0), (20, 0, 0), (20, 0, 20)),
            ((0, 0, 0), (20, 0, 20), (0, 0, 20)),
            ((0, 20, 0), (20, 20, 20), (20, 20, 0)),
            ((0, 20, 0), (0, 20, 20), (20, 20, 20)),
            ((0, 0, 0), (0, 0, 20), (0, 20, 20)),
            ((0, 0, 0), (0, 20, 20), (0, 20, 0)),
            ((20, 0, 0), (20, 20, 0), (20, 20, 20)),
            ((20, 0, 0), (20, 20, 20), (20, 0, 20)),
        ]
    )
    + b"endsolid cube\n"
)


@pytest.fixture
def cube_upload() -> Any:
    def make(name: str = "cube.stl") -> SimpleUploadedFile:
        return SimpleUploadedFile(name, CUBE_STL)

    return make
