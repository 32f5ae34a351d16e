"""System checks: configuration that parses but would not work, reported with a hint."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections

from farm.connections import ConnectionBudget


@register()
def check_configuration(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    redis_url = settings.REDIS_URL
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append(
            Error(
                f"FARM_REDIS_URL {redis_url!r} is not a Redis URL.",
                hint="Use redis://host:6379/0.",
                id="farm.E001",
            )
        )
    if settings.FARM_SIM_SPEEDUP <= 0:
        problems.append(
            Error(
                "FARM_SIM_SPEEDUP must be positive.",
                hint="1 prints in real time; 60 makes a 90-minute print take 90 seconds.",
                id="farm.E002",
            )
        )
    if settings.FARM_POLL_SECONDS <= 0 or settings.FARM_SCHEDULE_SECONDS <= 0:
        problems.append(
            Error(
                "FARM_POLL_SECONDS and FARM_SCHEDULE_SECONDS must be positive.",
                hint="The defaults are 1 and 10 seconds.",
                id="farm.E003",
            )
        )
    budget: ConnectionBudget = settings.FARM_CONNECTIONS
    if not budget.fits():
        problems.append(
            Warning(
                f"The processes configured need more database connections than "
                f"FARM_DB_CONNECTIONS allows ({budget.describe()}).",
                hint="Raise FARM_DB_CONNECTIONS (and PostgreSQL's max_connections), or lower "
                "FARM_WEB_WORKERS, FARM_WEB_THREADS, FARM_DB_WORKER_CONNECTIONS or the fleet "
                "links; leave FARM_WEB_THREADS unset to derive it from the budget.",
                id="farm.W003",
            )
        )
    return problems


@register(deploy=True)
def check_production(app_configs: Any, **kwargs: Any) -> list[Any]:
    """`check --deploy`: what a farm in production should not run with."""
    problems: list[Any] = []
    engine = str(settings.DATABASES["default"]["ENGINE"])
    if engine.endswith("sqlite3"):
        problems.append(
            Warning(
                "SQLite is the embedded default and suits one machine only.",
                hint="Set FARM_DATABASE_URL=postgres://user@host/farm for a farm.",
                id="farm.W001",
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Warning(
                "FARM_ALLOWED_HOSTS allows any host.",
                hint="List the host names the farm is served on.",
                id="farm.W002",
            )
        )
    return problems


@register(Tags.database)
def check_database_room(app_configs: Any, databases: Any = None, **kwargs: Any) -> list[Any]:
    """`check --database default`: PostgreSQL accepts as many connections as the budget."""
    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        )
        row = cursor.fetchone()
    room = int(row[0]) if row else 0
    budget: ConnectionBudget = settings.FARM_CONNECTIONS
    if budget.total > room:
        return [
            Warning(
                f"FARM_DB_CONNECTIONS is {budget.total} but PostgreSQL accepts {room}.",
                hint="Lower FARM_DB_CONNECTIONS or raise max_connections in postgresql.conf; "
                "other applications on that server count too.",
                id="farm.W004",
            )
        ]
    return []
