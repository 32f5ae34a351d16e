"""The admin console's site: administrators (staff) and operators get in; what each may see
and do there is their model permissions (farm/roles.py: OPERATOR_PERMISSIONS)."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.models import User
from django.http import HttpRequest

from farm.roles import is_operator


class FarmAdminLoginForm(AdminAuthenticationForm):
    """The admin's own log-in page lets operators in too (Django's asks for staff)."""

    def confirm_login_allowed(self, user: User) -> None:
        if user.is_active and is_operator(user):
            return
        super().confirm_login_allowed(user)


class FarmAdminSite(AdminSite):
    login_form = FarmAdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_staff or is_operator(user)))
