"""/me/tokens/: a person's API tokens, one per integration (farm.services.api_tokens). The
key is in the answer to the POST that made it, and nowhere else: not in a redirect, not in a
message kept in the session, never in a later page."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from farm.roles import signed_in_user
from farm.services.api_tokens import api_token_create, api_token_revoke, api_tokens_of


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="What will use it, e.g. CI robot or PrusaSlicer on my laptop.",
    )


@login_required
def my_tokens(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = TokenForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        try:
            made = api_token_create(user=user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = TokenForm()
    context = {
        "form": form,
        "made": made,
        "tokens": api_tokens_of(user),
        "octoprint_url": request.build_absolute_uri(reverse("octoprint:version")).removesuffix(
            "/api/version"
        ),
    }
    response = render(request, "farm/my_tokens.html", context)
    if made is not None:
        response["Cache-Control"] = "no-store"  # the key: not kept by the browser's cache
    return response


@login_required
@require_POST
def my_token_revoke(request: HttpRequest, token_key: str) -> HttpResponse:
    # Someone else's token is not found, rather than forbidden: its first characters say nothing.
    if not api_token_revoke(user=signed_in_user(request), token_key=token_key):
        return HttpResponse("No such token.", status=404)
    messages.success(request, "Token revoked: whatever used it is refused from now on.")
    return redirect("my-tokens")
