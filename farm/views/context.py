from __future__ import annotations

from django.http import HttpRequest

from farm.roles import is_operator


def roles(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {"is_operator": is_operator(user), "is_admin": bool(user.is_staff)}
