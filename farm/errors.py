"""What an error report may show: no API key, password or secret, wherever it sits.

Django hides sensitive settings, and POST fields or local variables only where a view says so
(`sensitive_post_parameters`, `sensitive_variables`) and only with DEBUG off. This filter does
it always and everywhere: any POST field, local variable or dictionary key whose name looks
like a secret (API, TOKEN, KEY, SECRET, PASS, ...) is replaced, in debug pages and in the
reports mailed to ADMINS alike. (Issue 10: one admin error page showed a printer's API key
three times: the POST field, the form's cleaned data and a local variable.)
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class SecretHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        return True  # Django's filter stands down in debug mode; secrets are secrets there too

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        params = super().get_post_parameters(request)
        if request is None or not params:
            return params
        cleansed = params.copy()
        for name in params:
            if self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_setting(name, value)) for name, value in variables]
