"""A person's API tokens, one per integration ("CI robot", "PrusaSlicer on my laptop"): made
with a name, listed with when each was last used, revoked one by one.

The token is django-rest-knox's: only its hash is kept, so the key is shown once, when made,
and never again (not in a page, not in a message kept in the session). Its name and last use
are a `TokenLabel` beside it; a token made before names existed reads as unnamed and gets a
label the first time it is used.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from farm.models import TokenLabel

# A token's last use is written at most this often: an integration polling every second is
# then one write a minute, not one per request.
TOUCH_SECONDS = 60
MAX_TOKENS = 50  # per person: more is a script making one per run, not an integration each


@dataclass(frozen=True)
class TokenRow:
    token_key: str  # the token's first characters, which say which one it is
    name: str
    created: datetime.datetime
    expiry: datetime.datetime | None
    last_used_at: datetime.datetime | None


def api_token_create(*, user: User, name: str) -> tuple[TokenRow, str]:
    """A new token named `name`; returns it and its key, which is never shown again."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what will use it."})
    if len(name) > 100:
        raise ValidationError({"name": "At most 100 characters."})
    if AuthToken.objects.filter(user=user).count() >= MAX_TOKENS:
        raise ValidationError(f"You have {MAX_TOKENS} tokens: revoke some you no longer use.")
    with transaction.atomic():
        token, key = AuthToken.objects.create(user=user)
        TokenLabel.objects.create(token=token, name=name)
    return TokenRow(token.token_key, name, token.created, token.expiry, None), key


def api_tokens_of(user: User) -> list[TokenRow]:
    """The person's tokens, newest first (expired ones are removed by knox when next used)."""
    tokens = AuthToken.objects.filter(user=user).select_related("label").order_by("-created")
    rows = []
    for token in tokens:
        label = getattr(token, "label", None)
        rows.append(
            TokenRow(
                token.token_key,
                label.name if label else "",
                token.created,
                token.expiry,
                label.last_used_at if label else None,
            )
        )
    return rows


def api_token_revoke(*, user: User, token_key: str) -> int:
    """Revoke the person's token(s) starting with `token_key`; how many went (0: none such).
    Someone else's token is none such."""
    _, per_model = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return per_model.get(AuthToken._meta.label, 0)  # not counting the labels that went too


def api_token_touch(token: AuthToken, *, now: datetime.datetime | None = None) -> None:
    """Note that `token` was just used: one read per request, a write once a minute."""
    now = now or timezone.now()
    found = TokenLabel.objects.filter(pk=token.pk).values_list("last_used_at", flat=True)
    if not found:
        # A token from before names: labelled now (two requests at once: the second loses).
        TokenLabel.objects.bulk_create(
            [TokenLabel(token=token, name="", last_used_at=now)], ignore_conflicts=True
        )
        return
    last = found[0]
    if last is None or (now - last).total_seconds() >= TOUCH_SECONDS:
        TokenLabel.objects.filter(pk=token.pk).update(last_used_at=now)
