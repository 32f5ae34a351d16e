"""API tokens per integration on /me/tokens/: made with a name, the key shown once, used by
the API and the OctoPrint-compatible upload, last use noted, revoked one by one."""

from __future__ import annotations

import datetime
import re
from typing import Any

import httpx
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from farm.models import TokenLabel
from farm.services.api_tokens import api_token_create, api_token_touch, api_tokens_of


def made_key(page: str) -> str:
    found = re.search(r'id="token-key" readonly value="([^"]+)"', page)
    assert found, "the new key is on the page"
    return found.group(1)


def test_a_token_made_on_the_page_is_shown_once_and_opens_the_api(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    made = client.post("/me/tokens/", {"name": "CI robot"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    key = made_key(made.content.decode())

    api = Client()
    assert api.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert api.get("/octoprint/api/version", HTTP_X_API_KEY=key).status_code == 200

    later = client.get("/me/tokens/").content.decode()
    assert key not in later and key[:15] in later  # its first characters say which it is
    assert "CI robot" in later
    row = api_tokens_of(alice)[0]
    assert (row.name, row.token_key) == ("CI robot", key[:15])
    assert row.last_used_at is not None  # used just now
    assert key not in str(TokenLabel.objects.values()) + str(AuthToken.objects.values())


def test_each_token_is_revoked_alone(client: Client, alice: User) -> None:
    ci, ci_key = api_token_create(user=alice, name="CI robot")
    _, slicer_key = api_token_create(user=alice, name="PrusaSlicer on my laptop")
    client.force_login(alice)
    answer = client.post(f"/me/tokens/{ci.token_key}/revoke/")
    assert answer.status_code == 302
    api = Client()
    assert api.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {ci_key}").status_code == 401
    assert api.get("/octoprint/api/version", HTTP_X_API_KEY=slicer_key).status_code == 200
    assert [t.name for t in api_tokens_of(alice)] == ["PrusaSlicer on my laptop"]
    assert TokenLabel.objects.count() == 1  # the revoked token's label went with it


def test_someone_elses_token_is_not_found(client: Client, alice: User, bob: User) -> None:
    theirs, key = api_token_create(user=alice, name="mine")
    client.force_login(bob)
    assert client.post(f"/me/tokens/{theirs.token_key}/revoke/").status_code == 404
    assert "mine" not in client.get("/me/tokens/").content.decode()
    assert Client().get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_a_token_needs_a_name_and_nothing_is_made_without(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.post("/me/tokens/", {"name": "  "}).content.decode()
    assert "This field is required." in page or "Name the token" in page
    assert 'id="token-key"' not in page
    assert AuthToken.objects.count() == 0


def test_a_token_from_before_names_still_works_and_reads_as_unnamed(
    client: Client, alice: User
) -> None:
    _, key = AuthToken.objects.create(user=alice)  # as /api/v1/tokens/ made them
    assert Client().get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    client.force_login(alice)
    page = client.get("/me/tokens/").content.decode()
    assert "(unnamed)" in page
    assert api_tokens_of(alice)[0].last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(alice: User) -> None:
    row, _ = api_token_create(user=alice, name="poller")
    token = AuthToken.objects.get(token_key=row.token_key)
    first = timezone.now()
    api_token_touch(token, now=first)
    api_token_touch(token, now=first + datetime.timedelta(seconds=59))
    assert TokenLabel.objects.get(pk=token.pk).last_used_at == first
    api_token_touch(token, now=first + datetime.timedelta(seconds=60))
    assert TokenLabel.objects.get(pk=token.pk).last_used_at == first + datetime.timedelta(
        seconds=60
    )


def test_the_api_makes_named_tokens_and_lists_their_last_use(alice: User) -> None:
    _, key = api_token_create(user=alice, name="script")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    made = api.post("/api/v1/tokens/", {"name": "CI robot"}, content_type="application/json")
    assert made.status_code == 201
    assert made.json()["name"] == "CI robot" and len(made.json()["token"]) > 15
    unnamed = api.post("/api/v1/tokens/").json()  # as clients made them before names
    assert unnamed["name"].startswith("API token ")
    listed = {t["name"]: t for t in api.get("/api/v1/tokens/").json()["results"]}
    assert listed["script"]["last_used_at"] is not None
    assert listed["CI robot"]["last_used_at"] is None
    assert "token" not in listed["CI robot"]


def test_a_named_token_works_over_real_http(live_server: Any, alice: User) -> None:
    _, key = api_token_create(user=alice, name="PrusaSlicer on my laptop")
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        assert http.get("/octoprint/api/version", headers={"X-Api-Key": key}).status_code == 200
        jobs = http.get("/api/v1/jobs/", headers={"Authorization": f"Token {key}"})
        assert jobs.status_code == 200 and jobs.json()["results"] == []
        assert http.get("/api/v1/jobs/", headers={"Authorization": "Token nope"}).status_code == 401
