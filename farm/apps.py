from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class FarmConfig(AppConfig):
    name = "farm"
    verbose_name = "Farm"

    def ready(self) -> None:
        from farm import checks  # noqa: F401  (registers the system checks)
        from farm.roles import operator_group_sync

        post_migrate.connect(operator_group_sync, sender=self)


class FarmAdminConfig(AdminConfig):
    """django.contrib.admin with the farm's site: operators get in (farm/admin_site.py)."""

    default_site = "farm.admin_site.FarmAdminSite"
