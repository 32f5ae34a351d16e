"""The permission matrix: every URL of farm/urls.py × every role, with the status each gets.

The URLs come from walking the resolver, so a new URL fails `test_every_url_has_a_row` until
its row says who may open it. Each case runs on its own fresh data (a POST changes state).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from knox.models import AuthToken

from farm.models import Job, NotificationChannel, Printer, PrintRun, Spool
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit
from farm.services.webhooks import webhook_create
from farm.statuses import RunStatus
from tests.farm.helpers import claim

ROLES = ("anonymous", "employee", "other_employee", "operator", "admin")
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Every named URL pattern, namespaced as `reverse()` wants it (admin:index)."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace + entry.name, entry


def url_patterns() -> dict[str, URLPattern]:
    found: dict[str, URLPattern] = {}
    for name, pattern in walk(get_resolver().url_patterns):
        found.setdefault(name, pattern)  # reverse() uses the first of a name
    return found


def admin_kwargs(name: str) -> dict[str, str]:
    """Arguments that reverse an admin URL (a change page of some row, an app's index)."""
    values = {"app_label": "farm", "url": "nothing-here"}
    groups = url_patterns()[name].pattern.regex.groupindex
    return {key: values.get(key, "1") for key in groups}


# name: (method, status per role in ROLES order). 302 -> where to is checked for anonymous.
MATRIX: dict[str, tuple[str, tuple[int, ...]]] = {
    "home": ("GET", (302, 302, 302, 302, 302)),
    "my-jobs": ("GET", (302, 200, 200, 200, 200)),
    "job-new": ("GET", (302, 200, 200, 200, 200)),
    "job-detail": ("GET", (302, 200, 404, 200, 200)),
    "job-thumbnail": ("GET", (302, 200, 404, 200, 200)),
    "job-layer": ("GET", (302, 200, 404, 200, 200)),
    "job-turntable": ("GET", (302, 200, 404, 200, 200)),
    "job-answer": ("POST", (302, 302, 404, 302, 302)),
    # One's own job only: an operator sees it but it is not theirs to print again.
    "job-again": ("POST", (302, 302, 404, 403, 403)),
    "my-time": ("GET", (302, 200, 200, 200, 200)),
    # Each person's own tokens: someone else's token is not found.
    "my-tokens": ("GET", (302, 200, 200, 200, 200)),
    "my-token-revoke": ("POST", (302, 302, 404, 404, 404)),
    "job-confirm": ("POST", (302, 302, 404, 302, 302)),
    "job-cancel": ("POST", (302, 302, 404, 302, 302)),
    "job-approve": ("POST", (302, 403, 403, 302, 302)),
    "job-refuse": ("POST", (302, 403, 403, 302, 302)),
    "operator-dashboard": ("GET", (302, 403, 403, 200, 200)),
    "audit-log": ("GET", (302, 403, 403, 200, 200)),
    "fleet": ("GET", (302, 403, 403, 200, 200)),
    "fleet-changes": ("GET", (302, 403, 403, 200, 200)),
    "printer-bed-clear": ("POST", (302, 403, 403, 302, 302)),
    "printer-filament-loaded": ("POST", (302, 403, 403, 302, 302)),
    "printer-command": ("POST", (302, 403, 403, 302, 302)),
    "run-decide": ("POST", (302, 403, 403, 302, 302)),
    "maintenance": ("GET", (302, 403, 403, 200, 200)),
    "maintenance-work": ("POST", (302, 403, 403, 302, 302)),
    "spools": ("GET", (302, 403, 403, 200, 200)),
    "spool-action": ("POST", (302, 403, 403, 302, 302)),
    "stats": ("GET", (302, 403, 403, 200, 200)),
    "stats-csv": ("GET", (302, 403, 403, 200, 200)),
    # Each person's own channels: someone else's channel is not found.
    "notifications": ("GET", (302, 200, 200, 200, 200)),
    "notification-action": ("POST", (302, 302, 404, 404, 404)),
    "notification-email": ("POST", (302, 302, 302, 302, 302)),  # back to the page, said why
    # Managers (the group, and administrators): the farm's webhook endpoints.
    "webhooks": ("GET", (302, 403, 403, 403, 200)),
    "webhook-action": ("POST", (302, 403, 403, 403, 302)),
    "fleet-bulk": ("POST", (302, 403, 403, 302, 302)),
    "work": ("GET", (302, 403, 403, 200, 200)),
    "work-beds": ("POST", (302, 403, 403, 302, 302)),
    "work-filament": ("POST", (302, 403, 403, 302, 302)),
    "work-filament-decline": ("POST", (302, 403, 403, 302, 302)),
    "work-declines-lift": ("POST", (302, 403, 403, 302, 302)),
    "queue": ("GET", (302, 403, 403, 200, 200)),
    "queue-act": ("POST", (302, 403, 403, 302, 302)),
    "printer-page": ("GET", (302, 403, 403, 200, 200)),
    "printer-live": ("GET", (302, 403, 403, 200, 200)),
    "printer-control": ("POST", (302, 403, 403, 302, 302)),
    "login": ("GET", (200, 200, 200, 200, 200)),
    "logout": ("GET", (405, 405, 405, 405, 405)),
    "password_change": ("GET", (302, 200, 200, 200, 200)),
    "password_change_done": ("GET", (302, 200, 200, 200, 200)),
    "password_reset": ("GET", (200, 200, 200, 200, 200)),
    "password_reset_done": ("GET", (200, 200, 200, 200, 200)),
    "password_reset_confirm": ("GET", (200, 200, 200, 200, 200)),
    "password_reset_complete": ("GET", (200, 200, 200, 200, 200)),
}


# The REST API and the OctoPrint upload have their own matrix, called with tokens as
# integrations call them (tests/api/test_roles.py).
API_NAMESPACES = ("api:", "octoprint:")


def farm_names() -> list[str]:
    return sorted(n for n in url_patterns() if not n.startswith(("admin:", *API_NAMESPACES)))


def admin_names() -> list[str]:
    return sorted(n for n in url_patterns() if n.startswith("admin:"))


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # 111 cases × 4 users: the real hasher's cost is for attackers, not for this matrix.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_every_url_has_a_row() -> None:
    assert set(farm_names()) == set(MATRIX), "add the new URL's row to MATRIX"


@pytest.fixture
def world(
    alice: User, bob: User, operator: User, admin_user: User, pla: Any, make_printer: Any
) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import CUBE_STL

    job = job_submit(
        owner=alice, upload=SimpleUploadedFile("cube.stl", CUBE_STL), material=pla, quantity=1
    )
    printer = make_printer("berlin-01")
    return {
        "users": {
            "employee": alice,
            "other_employee": bob,
            "operator": operator,
            "admin": admin_user,
        },
        "job": job,
        "printer": printer,
    }


def farm_url(name: str, world: dict[str, Any]) -> str:
    job: Job = world["job"]
    printer: Printer = world["printer"]
    if name in ("job-thumbnail", "job-layer", "job-turntable", "run-decide"):
        job_prepare(job_id=job.pk)  # a picture, G-code layers
    if name == "run-decide":
        run: PrintRun = claim(Job.objects.get(pk=job.pk), printer)
        PrintRun.objects.filter(pk=run.pk).update(status=RunStatus.IN_DOUBT)
        return reverse(name, kwargs={"run_id": run.pk, "decision": "good"})
    if name == "spool-action":
        spool = Spool.objects.create(material=job.material, colour="black")
        return reverse(name, kwargs={"spool_id": spool.pk, "action": "unload"})
    if name == "my-token-revoke":
        token, _ = AuthToken.objects.create(user=job.owner)
        return reverse(name, kwargs={"token_key": token.token_key})
    if name == "webhook-action":
        endpoint, _ = webhook_create(owner=job.owner, name="ERP", url="https://erp.example/hook")
        return reverse(name, kwargs={"endpoint_id": endpoint.pk, "action": "disable"})
    if name == "notification-action":
        channel = NotificationChannel.objects.create(
            user=job.owner, name="mine", url_encrypted="-", url_hint="json://…", events=[]
        )
        return reverse(name, kwargs={"channel_id": channel.pk, "action": "pause"})
    all_kwargs: dict[str, dict[str, Any]] = {
        "job-detail": {"job_id": job.pk},
        "job-thumbnail": {"job_id": job.pk},
        "job-layer": {"job_id": job.pk, "layer": 0},
        "job-turntable": {"job_id": job.pk},
        "job-answer": {"job_id": job.pk},
        "job-again": {"job_id": job.pk},
        "job-confirm": {"job_id": job.pk},
        "job-cancel": {"job_id": job.pk},
        "job-approve": {"job_id": job.pk},
        "job-refuse": {"job_id": job.pk},
        "printer-bed-clear": {"printer_id": printer.pk},
        "printer-filament-loaded": {"printer_id": printer.pk},
        "printer-command": {"printer_id": printer.pk, "command": "pause"},
        "work-filament-decline": {"printer_id": printer.pk},
        "printer-page": {"printer_id": printer.pk},
        "printer-live": {"printer_id": printer.pk},
        "printer-control": {"printer_id": printer.pk},
        "password_reset_confirm": {"uidb64": "MQ", "token": "not-a-token"},
        "stats-csv": {"section": "throughput"},
    }
    return reverse(name, kwargs=all_kwargs.get(name, {}))


def client_for(role: str, world: dict[str, Any]) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_role_gets_its_status(name: str, role: str, world: dict[str, Any]) -> None:
    method, statuses = MATRIX[name]
    expected = statuses[ROLES.index(role)]
    url = farm_url(name, world)
    client = client_for(role, world)
    response = client.post(url) if method == "POST" else client.get(url)
    assert response.status_code == expected, f"{method} {url} as {role}"
    if role == "anonymous" and expected == 302:
        assert response["Location"].startswith(LOGIN)


# What operators may open in the admin: the floor's records (farm/roles.py), not the people.
OPERATOR_ADMIN_OPEN = ("admin:index", "admin:farm_printer_changelist", "admin:farm_job_changelist")
OPERATOR_ADMIN_CLOSED = ("admin:auth_user_changelist", "admin:auth_group_changelist")


@pytest.mark.parametrize("role", ROLES)
def test_only_administrators_and_operators_get_into_the_admin(
    role: str, world: dict[str, Any]
) -> None:
    client = client_for(role, world)
    for name in admin_names():
        url = reverse(name, kwargs=admin_kwargs(name))
        response = client.get(url)
        if role == "operator":
            assert response.status_code < 500, url
            if name in OPERATOR_ADMIN_OPEN:
                assert response.status_code == 200, url
            elif name in OPERATOR_ADMIN_CLOSED:
                assert response.status_code == 403, url
        elif role == "admin":
            # 403 is the admin's own answer where a model admin forbids it (adding log-in
            # attempts by hand) or the request names no field (autocomplete); never a 5xx.
            assert response.status_code < 500, url
            if name in ("admin:index", "admin:farm_printer_changelist"):
                assert response.status_code == 200, url
        elif name == "admin:login":
            assert response.status_code == 200, url
        elif name == "admin:logout":  # nothing to log out of: back to the admin, i.e. log-in
            assert (response.status_code, response["Location"]) == (302, "/admin/"), url
        else:
            assert response.status_code == 302, url
            assert response["Location"].startswith(ADMIN_LOGIN), url
