from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from farm.settings import database_from_url, envbool, envint


def test_it_reads_a_postgres_url() -> None:
    db = database_from_url("postgres://farm:s%40cret@db.example:6543/farm")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "farm",
        "s@cret",
        "db.example",
        "6543",
        "farm",
    )


def test_it_refuses_an_unknown_database_scheme() -> None:
    with pytest.raises(ImproperlyConfigured, match="mysql"):
        database_from_url("mysql://root@localhost/farm")


def test_it_refuses_a_postgres_url_without_a_database_name() -> None:
    with pytest.raises(ImproperlyConfigured, match="must name a database"):
        database_from_url("postgres://localhost")


def test_a_bad_boolean_fails_loudly(monkeypatch: Any) -> None:
    monkeypatch.setenv("FARM_X", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="FARM_X must be a boolean"):
        envbool("FARM_X", "false")


def test_a_number_below_its_minimum_fails_loudly(monkeypatch: Any) -> None:
    monkeypatch.setenv("FARM_MAX_UPLOAD_MB", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        envint("FARM_MAX_UPLOAD_MB", "200", minimum=1)


def test_the_system_checks_report_a_bad_redis_url_with_a_hint(settings: Any) -> None:
    settings.REDIS_URL = "http://localhost:6379"
    problems = [p for p in run_checks() if p.id == "farm.E001"]
    assert problems and "redis://" in str(problems[0].hint)


def test_the_system_checks_report_a_non_positive_speedup(settings: Any) -> None:
    settings.FARM_SIM_SPEEDUP = 0
    assert any(p.id == "farm.E002" for p in run_checks())


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (42.4, "42 s"), (60, "1 min"), (3599, "59 min"), (3600 * 3 + 300, "3 h 05 min")],
)
def test_durations_read_as_people_say_them(seconds: float | None, text: str) -> None:
    from farm.templatetags.farm_extras import duration

    assert duration(seconds) == text
