"""System checks: configuration that parses but would not work, reported with a hint."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_configuration(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    engine = str(settings.DATABASES["default"]["ENGINE"])
    if not settings.DEBUG and engine.endswith("sqlite3"):
        problems.append(
            Warning(
                "SQLite is the embedded default and suits one machine only.",
                hint="Set FARM_DATABASE_URL=postgres://user@host/farm for a farm.",
                id="farm.W001",
            )
        )
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
    if not settings.DEBUG and "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Warning(
                "FARM_ALLOWED_HOSTS allows any host.",
                hint="List the host names the farm is served on.",
                id="farm.W002",
            )
        )
    return problems
