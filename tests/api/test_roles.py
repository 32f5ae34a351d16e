"""The API's permission matrix: every URL of the API and the OctoPrint upload × every role,
with a token as integrations send it. The URLs come from walking the resolver, so a new one
fails `test_every_api_url_has_a_row` until its row says who may call it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from farm.models import Job, Printer, Spool
from farm.services.submission import job_submit
from tests.api.conftest import token_client
from tests.web.test_permissions import url_patterns

ROLES = ("anonymous", "employee", "other_employee", "operator")

# (name, method): status per role in ROLES order. The employee owns the job; tokens are
# always the caller's own, so another's token is "no such token" even for an operator.
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("api:api-root", "GET"): (401, 200, 200, 200),
    ("api:job-list", "GET"): (401, 200, 200, 200),
    ("api:job-list", "POST"): (401, 400, 400, 400),  # no file: the form's message
    ("api:job-detail", "GET"): (401, 200, 404, 200),
    ("api:job-confirm", "POST"): (401, 409, 404, 409),  # not quoted yet: nothing to confirm
    ("api:job-cancel", "POST"): (401, 200, 404, 200),
    ("api:job-again", "POST"): (401, 201, 404, 403),  # one's own job only
    ("api:job-questions", "GET"): (401, 200, 404, 200),
    ("api:job-answer", "POST"): (401, 400, 404, 400),  # no question named
    ("api:printer-list", "GET"): (401, 403, 403, 200),
    ("api:printer-detail", "GET"): (401, 403, 403, 200),
    ("api:queue-list", "GET"): (401, 403, 403, 200),
    ("api:site-list", "GET"): (401, 200, 200, 200),
    ("api:site-detail", "GET"): (401, 200, 200, 200),
    ("api:material-list", "GET"): (401, 200, 200, 200),
    ("api:material-detail", "GET"): (401, 200, 200, 200),
    ("api:token-list", "GET"): (401, 200, 200, 200),
    ("api:token-list", "POST"): (401, 201, 201, 201),
    ("api:token-detail", "DELETE"): (401, 204, 404, 404),
    ("api:spool-list", "GET"): (401, 403, 403, 200),
    ("api:spool-detail", "GET"): (401, 403, 403, 200),
    ("api:stock", "GET"): (401, 403, 403, 200),
    ("api:reports", "GET"): (401, 403, 403, 200),
    ("api:plan-list", "GET"): (401, 200, 200, 200),  # each sees the runs they may
    ("api:schema", "GET"): (401, 200, 200, 200),
    ("api:docs", "GET"): (401, 200, 200, 200),
    ("octoprint:version", "GET"): (401, 200, 200, 200),
    ("octoprint:files-local", "POST"): (401, 400, 400, 400),  # no file part
}


def api_names() -> set[str]:
    return {n for n in url_patterns() if n.startswith(("api:", "octoprint:"))}


def test_every_api_url_has_a_row() -> None:
    assert api_names() == {name for name, _ in MATRIX}, "add the new URL's row to MATRIX"


@pytest.fixture
def world(
    alice: User, bob: User, operator: User, pla: Any, make_printer: Any, site: Any, cube_upload: Any
) -> dict[str, Any]:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    alices_other_token, _ = AuthToken.objects.create(user=alice)
    return {
        "users": {"employee": alice, "other_employee": bob, "operator": operator},
        "job": job,
        "printer": make_printer("berlin-01"),
        "site": site,
        "material": pla,
        "token_key": alices_other_token.token_key,
        "spool": Spool.objects.create(material=pla, colour="black"),
    }


def api_url(name: str, world: dict[str, Any]) -> str:
    job: Job = world["job"]
    printer: Printer = world["printer"]
    kwargs = {
        "api:job-detail": {"pk": job.pk},
        "api:job-confirm": {"pk": job.pk},
        "api:job-cancel": {"pk": job.pk},
        "api:job-again": {"pk": job.pk},
        "api:job-questions": {"pk": job.pk},
        "api:job-answer": {"pk": job.pk},
        "api:printer-detail": {"pk": printer.pk},
        "api:site-detail": {"pk": world["site"].pk},
        "api:material-detail": {"pk": world["material"].pk},
        "api:token-detail": {"token_key": world["token_key"]},
        "api:spool-detail": {"pk": world["spool"].pk},
    }
    return reverse(name, kwargs=kwargs.get(name, {}))


def client_for(role: str, world: dict[str, Any]) -> APIClient:
    return token_client(None if role == "anonymous" else world["users"][role])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method"), sorted(MATRIX))
def test_each_role_gets_its_status(name: str, method: str, role: str, world: Any) -> None:
    expected = MATRIX[name, method][ROLES.index(role)]
    url = api_url(name, world)
    response = getattr(client_for(role, world), method.lower())(url)
    assert response.status_code == expected, f"{method} {url} as {role}: {response.content!r}"


def test_an_employee_lists_only_their_own_jobs(world: dict[str, Any]) -> None:
    mine = client_for("employee", world).get("/api/v1/jobs/").json()
    theirs = client_for("other_employee", world).get("/api/v1/jobs/").json()
    every = client_for("operator", world).get("/api/v1/jobs/").json()
    assert [j["id"] for j in mine["results"]] == [world["job"].pk]
    assert mine["results"][0]["progress"] == 0
    assert theirs["results"] == []
    assert [j["id"] for j in every["results"]] == [world["job"].pk]


def test_a_wrong_token_is_refused(world: dict[str, Any]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "ab" * 32)
    assert client.get("/api/v1/jobs/").status_code == 401
    client.credentials(HTTP_X_API_KEY="not-a-token")
    assert client.get("/octoprint/api/version").status_code == 401


def test_the_browsable_api_takes_the_web_session_with_its_csrf_check(
    world: dict[str, Any],
) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world["users"]["employee"])
    assert client.get("/api/v1/jobs/", HTTP_ACCEPT="text/html").status_code == 200
    # A page elsewhere cannot make the browser cancel a job with its session cookie.
    assert client.post(f"/api/v1/jobs/{world['job'].pk}/cancel/").status_code == 403


def test_a_revoked_token_opens_nothing(alice: User) -> None:
    client = token_client(alice)
    created = client.post("/api/v1/tokens/").json()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {created['token']}")
    assert other.get("/api/v1/jobs/").status_code == 200
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert created["token"] not in str(listed)  # kept hashed: never shown again
    assert client.delete(f"/api/v1/tokens/{created['token_key']}/").status_code == 204
    assert other.get("/api/v1/jobs/").status_code == 401


def test_a_caller_past_the_rate_is_told_to_wait(alice: User, monkeypatch: Any) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/min")
    client = token_client(alice)
    answers = [client.get("/api/v1/materials/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_error_reports_hide_the_token_in_either_header(rf: Any) -> None:
    import secrets
    import sys

    from django.views.debug import ExceptionReporter

    # Not in this file's source (the HTML report shows it), and in variables named as secrets.
    token, api_key = secrets.token_hex(16), secrets.token_hex(16)
    request = rf.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {token}", HTTP_X_API_KEY=api_key)
    try:
        raise ValueError("a failing API view")
    except ValueError:
        report = ExceptionReporter(request, *sys.exc_info())
    for shown in (report.get_traceback_text(), report.get_traceback_html()):
        assert token not in shown and api_key not in shown
