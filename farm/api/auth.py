"""Who may call the API: a django-rest-knox token (hashed at rest, one per integration, each
named, with its last use noted: farm.services.api_tokens), sent as `Authorization: Token ...`
or, for slicers that speak OctoPrint, as `X-Api-Key`; the roles are the web's (farm.roles)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from farm.roles import is_operator
from farm.services.api_tokens import api_token_touch


class FarmTokenAuthentication(TokenAuthentication):
    """knox's token check, noting when each token was last used (shown on /me/tokens/)."""

    def validate_user(self, auth_token: AuthToken) -> Any:
        found = super().validate_user(auth_token)  # refuses an inactive user's token
        api_token_touch(auth_token)
        return found


class ApiKeyAuthentication(FarmTokenAuthentication):
    """The same tokens in OctoPrint's `X-Api-Key` header (PrusaSlicer, OrcaSlicer and Cura
    send it). Not in the query string, as OctoPrint also allows: URLs end up in logs."""

    def authenticate(self, request: Request) -> Any:
        key = request.META.get("HTTP_X_API_KEY", "").strip()
        if not key:
            return None
        return self.authenticate_credentials(key.encode())

    def authenticate_header(self, request: Request) -> str:
        return "X-Api-Key"


class IsOperator(BasePermission):
    """Operators (and superusers) only, as the web's operator pages."""

    message = "Operators only."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_operator(request.user)


class FarmTokenScheme(KnoxTokenScheme):
    """The schema's word on these tokens: knox's (`Authorization: Token ...`)."""

    target_class = "farm.api.auth.FarmTokenAuthentication"
