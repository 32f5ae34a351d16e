from __future__ import annotations

from django.http import HttpRequest

from farm.roles import is_manager, is_operator


def roles(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    operator = is_operator(user)
    # is_admin: the admin console's link; operators use its bulk actions too (farm/roles.py).
    return {
        "is_operator": operator,
        "is_manager": is_manager(user),
        "is_admin": bool(user.is_staff) or operator,
    }
