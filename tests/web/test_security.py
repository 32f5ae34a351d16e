"""Security of the web: bounded bodies, throttled log-ins, plain error pages, no secrets shown,
password rules and reset mail, headers, and `check --deploy` with production settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.views.debug import ExceptionReporter

from farm.connections import ConnectionBudget
from farm.models import Job
from farm.services.preparation import job_prepare
from farm.services.submission import job_submit

ROOT = Path(__file__).resolve().parents[2]
GB = 1024**3


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def settings_in_a_fresh_process(code: str, **env: str) -> str:
    """Run `code` after loading farm.settings from the environment alone (plus `env`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FARM_")}
    clean.update({"FARM_VAR_DIR": os.environ.get("FARM_VAR_DIR", str(ROOT / "var")), **env})
    script = "import django; django.setup(); from django.conf import settings\n" + code
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "farm.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# Bodies are refused before they are read.


@pytest.mark.parametrize("url", ["/accounts/login/", "/jobs/new/", "/admin/login/", "/nowhere/"])
def test_it_refuses_a_huge_body_before_reading_it(client: Client, db: Any, url: str) -> None:
    # The declared length alone decides: the test sends ten bytes and claims a gigabyte.
    response = client.post(
        url, b"x" * 10, content_type="application/octet-stream", CONTENT_LENGTH=str(GB)
    )
    assert response.status_code == 413
    assert b"larger than" in response.content


def test_it_refuses_a_form_over_the_form_limit_even_when_logged_in(
    client: Client, alice: User, settings: Any
) -> None:
    client.force_login(alice)
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = client.post("/jobs/", b"a" * 10, content_type="text/plain", CONTENT_LENGTH=str(size))
    assert response.status_code == 413


def test_the_upload_form_takes_a_file_up_to_its_limit_and_margin(
    client: Client, alice: User, settings: Any
) -> None:
    from farm.middleware import body_limit

    margin = settings.FARM_UPLOAD_FORM_MARGIN_MB * 1024 * 1024
    assert body_limit("/jobs/new/") == settings.FARM_MAX_UPLOAD_MB * 1024 * 1024 + margin
    assert body_limit("/accounts/login/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    client.force_login(alice)
    over = str(body_limit("/jobs/new/") + 1)
    response = client.post("/jobs/new/", b"x", content_type="text/plain", CONTENT_LENGTH=over)
    assert response.status_code == 413


def test_it_refuses_a_chunked_body(client: Client, db: Any) -> None:
    response = client.post(
        "/accounts/login/", b"x", content_type="text/plain", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 411


def test_it_refuses_a_length_that_is_not_a_number(client: Client, db: Any) -> None:
    response = client.post("/accounts/login/", b"x", content_type="text/plain", CONTENT_LENGTH="x")
    assert response.status_code == 400


# Log-in throttling and passwords.


def test_it_locks_a_user_name_out_of_one_address_at_the_fifth_failure(
    client: Client, alice: User
) -> None:
    for _ in range(4):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    fifth = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert fifth.status_code == 429
    locked = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    assert "_auth_user_id" not in client.session
    # Another address may still log in as alice: a stranger cannot lock her out everywhere.
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    response = elsewhere.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302


def test_a_success_resets_the_count(client: Client, alice: User) -> None:
    for _ in range(4):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"}).status_code
        == 302
    )
    client.logout()
    for _ in range(4):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"}).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1x", "too short"),
        ("password123", "too common"),
        ("48151623424815", "entirely numeric"),
        ("alice-the-employee", "too similar"),
    ],
)
def test_every_password_validator_is_on(alice: User, password: str, why: str) -> None:
    alice.first_name = "alice-the-employee"
    with pytest.raises(ValidationError, match=why):
        validate_password(password, user=alice)
    validate_password("Tangerine-Lathe-47", user=alice)


def test_the_password_reset_mail_is_sent_and_its_link_sets_a_password(
    client: Client, alice: User
) -> None:
    alice.email = "alice@example.com"
    alice.save()
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"] and "alice" in message.body
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", str(message.body))
    assert link
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Tangerine-Lathe-47", "new_password2": "Tangerine-Lathe-47"},
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Tangerine-Lathe-47")


def test_the_demo_prints_mail_and_smtp_is_a_setting() -> None:
    code = "print(settings.EMAIL_BACKEND)"
    assert settings_in_a_fresh_process(code).endswith("console.EmailBackend")
    smtp = settings_in_a_fresh_process(code, FARM_SMTP_HOST="mail.example.com")
    assert smtp.endswith("smtp.EmailBackend")


# Error pages and secrets.


def test_debug_is_off_unless_asked_for() -> None:
    assert settings_in_a_fresh_process("print(settings.DEBUG)") == "False"
    assert settings_in_a_fresh_process("print(settings.DEBUG)", FARM_DEBUG="true") == "True"


def test_an_employee_gets_a_plain_404(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/jobs/424242/")
    assert response.status_code == 404
    assert b"Not found" in response.content and b"Traceback" not in response.content


def test_an_employee_gets_a_plain_403(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/operator/")
    assert response.status_code == 403
    assert b"Not allowed" in response.content and b"Operators only" not in response.content


def test_a_server_error_shows_nothing_of_itself(
    client: Client, alice: User, monkeypatch: Any
) -> None:
    from farm.views import employee

    def broken(jobs: Any) -> Any:
        raise RuntimeError("db password is hunter2-SECRET")

    monkeypatch.setattr(employee, "job_rows", broken)
    client.raise_request_exception = False
    client.force_login(alice)
    response = client.get("/jobs/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"hunter2" not in response.content and b"Traceback" not in response.content


def test_error_reports_hide_api_keys_wherever_they_are(rf: Any) -> None:
    # Built at run time: the report shows the source lines, which must not hold them.
    # (This frame's own variable is named for what it holds, as a view's would be.)
    api_keys = ["K3Y" + str(n) * 12 for n in (1, 2, 3)]
    request = rf.post("/admin/farm/printer/1/change/", {"name": "octo", "api_key": api_keys[0]})

    def save(api_key: str, cleaned_data: dict[str, str]) -> None:
        raise ValueError("the printer did not answer")

    try:
        save(api_keys[1], {"url": "http://octo", "api_key": api_keys[2]})
    except ValueError:
        html = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    for secret in api_keys:
        assert secret not in html
    assert "http://octo" in html  # the rest of the report is still there


def test_an_out_of_range_layer_is_not_found(
    client: Client, operator: User, alice: User, pla: Any, cube_upload: Any
) -> None:
    job = job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    job_prepare(job_id=job.pk)
    job = Job.objects.get(pk=job.pk)
    assert job.layers > 0
    client.force_login(operator)
    assert client.get(f"/jobs/{job.pk}/layers/{job.layers - 1}.svg").status_code == 200
    assert client.get(f"/jobs/{job.pk}/layers/{job.layers}.svg").status_code == 404
    assert client.get(f"/jobs/{job.pk}/layers/999999.svg").status_code == 404


# Headers, static files, production settings.


def test_pages_carry_a_content_security_policy_and_no_inline_script(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    for url in ("/accounts/login/", "/jobs/new/", "/jobs/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        page = response.content.decode()
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page)), url
        assert not re.search(r"\son[a-z]+=", page), url  # no inline event handlers


def test_static_files_are_served_by_the_app(client: Client, db: Any) -> None:
    response = client.get("/static/farm/farm.js")
    assert response.status_code == 200
    assert b"data-live" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_https_turns_on_secure_cookies_hsts_and_the_redirect() -> None:
    code = (
        "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS > 0, "
        "'upgrade-insecure-requests' in settings.CONTENT_SECURITY_POLICY['DIRECTIVES'])"
    )
    assert settings_in_a_fresh_process(code) == "False False False False False"
    assert settings_in_a_fresh_process(code, FARM_HTTPS="true") == "True True True True True"


PRODUCTION = {
    "FARM_HTTPS": "true",
    "FARM_SECRET_KEY": "x7" * 20 + "production-key-from-the-environment",
    "FARM_ALLOWED_HOSTS": "farm.example.com",
    "FARM_DATABASE_URL": "postgres://farm@db.example.com:5432/farm",
}


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FARM_")},
        **PRODUCTION,
        "FARM_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# The connection budget.


def budget(**fields: int) -> ConnectionBudget:
    values = dict(
        total=50,
        web_workers=2,
        web_threads=0,
        worker_connections=6,
        fleet_links=1,
        fleet_link_threads=8,
    )
    values.update(fields)
    return ConnectionBudget(**values)


def test_the_web_gets_what_the_other_processes_leave() -> None:
    # 50 - (6 workers + 9 fleet link + 1 beat + 3 reserve) = 31, over 2 web workers: 15 each.
    assert (budget().threads, budget().web_connections, budget().needed) == (15, 30, 49)
    assert budget().fits()
    assert budget(total=200).threads == 16  # two cores serve no more at once
    assert budget(total=10).threads == 1


def test_the_check_warns_when_the_processes_need_more_than_the_budget(settings: Any) -> None:
    from django.core.checks import run_checks

    settings.FARM_CONNECTIONS = budget(total=20, web_threads=8)
    problems = [p for p in run_checks() if p.id == "farm.W003"]
    assert problems and "35 of 20" in problems[0].msg
    settings.FARM_CONNECTIONS = budget()
    assert not [p for p in run_checks() if p.id == "farm.W003"]
