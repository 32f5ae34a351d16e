"""The three roles: employees submit and follow their own jobs, operators run the floor,
administrators use the admin console. Roles are Django groups (admin: is_staff)."""

from __future__ import annotations

from typing import Any

EMPLOYEE = "employee"
OPERATOR = "operator"


def is_operator(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return bool(user.groups.filter(name=OPERATOR).exists())
