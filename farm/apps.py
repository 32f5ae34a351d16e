from __future__ import annotations

from django.apps import AppConfig


class FarmConfig(AppConfig):
    name = "farm"
    verbose_name = "Farm"

    def ready(self) -> None:
        from farm import checks  # noqa: F401  (registers the system checks)
