"""The roles: employees submit and follow their own jobs, operators run the floor, managers
set up the farm's integrations, administrators use the admin console. Roles are Django groups
(admin: is_staff).

Operators use the admin console too, where its bulk actions are (confirm beds cleared, cancel
jobs, log maintenance), with what their group's model permissions allow (OPERATOR_PERMISSIONS,
given to the group after every migrate): the floor's records, not users, groups, quotas, sites'
settings or notification channels. Their group lets them in (farm/admin_site.py), so no one has
to remember a staff flag when making someone an operator."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

EMPLOYEE = "employee"
OPERATOR = "operator"
# Managers set up the farm's integrations (webhook endpoints, /manage/webhooks/); a group of
# its own, so that can be given without the floor's controls (and an operator need not be one).
MANAGER = "manager"
# Model permissions of the operator group (farm app): what the floor reads and acts on.
OPERATOR_PERMISSIONS = (
    "view_printer",
    "change_printer",
    "view_job",
    "change_job",
    "view_printrun",
    "view_event",
    "view_site",
    "view_material",
    "view_maintenanceschedule",
    "change_maintenanceschedule",
    "view_maintenancelog",
    "add_maintenancelog",
    "view_maintenancehold",
    "change_maintenancehold",
    "view_spool",
    "add_spool",
    "change_spool",
    "view_stockthreshold",
    "add_stockthreshold",
    "change_stockthreshold",
)


def signed_in_user(request: HttpRequest) -> User:
    """The user of a request that passed `login_required`, typed for the services."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Log in first.")
    return user


def is_operator(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return bool(user.groups.filter(name=OPERATOR).exists())


def is_manager(user: User | AnonymousUser) -> bool:
    """Managers: the group, and administrators (who manage webhooks in the admin anyway)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser or user.is_staff:
        return True
    return bool(user.groups.filter(name=MANAGER).exists())


def operator_group_sync(**kwargs: Any) -> None:
    """The operator group exists and holds OPERATOR_PERMISSIONS (a post_migrate receiver, so
    a new database and a new model's permissions are covered). Only adds: a permission an
    administrator gave the group by hand stays."""
    Group.objects.get_or_create(name=MANAGER)  # no model permissions: its pages check the group
    group = Group.objects.get_or_create(name=OPERATOR)[0]
    wanted = Permission.objects.filter(
        content_type__app_label="farm", codename__in=OPERATOR_PERMISSIONS
    )
    group.permissions.add(*wanted)
