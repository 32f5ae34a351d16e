"""The three roles: employees submit and follow their own jobs, operators run the floor,
administrators use the admin console. Roles are Django groups (admin: is_staff)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

EMPLOYEE = "employee"
OPERATOR = "operator"


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
