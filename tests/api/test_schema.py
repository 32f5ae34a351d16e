"""The OpenAPI schema validates, and schemathesis calls every operation of the live API
(the real WSGI application, in-process) with generated requests: no server error, and no
answer that breaks the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from farm.services.submission import job_submit


def test_the_schema_validates_without_a_warning(tmp_path: Any) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/jobs/{id}/confirm/" in out.read_text()


def test_the_schema_and_its_docs_need_a_log_in(client: Any, alice: User) -> None:
    for path in ("/api/v1/schema/", "/api/v1/docs/"):
        assert client.get(path).status_code == 401, path
    client.force_login(alice)
    assert client.get("/api/v1/schema/").status_code == 200


def test_the_docs_page_runs_no_inline_script_and_loads_nothing_from_elsewhere(
    client: Any, alice: User
) -> None:
    """The farm's CSP allows scripts from the farm only: Swagger UI's start-up script is a
    file (the split view), its bundle comes from the sidecar package's static files."""
    client.force_login(alice)
    page = client.get("/api/v1/docs/")
    html = page.content.decode()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "<script>" not in html
    assert "http://" not in html and "https://" not in html
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


def _schema() -> Any:
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()  # called in-process, in the test's transaction
    return loaded


schema = _schema()


@pytest.fixture
def _connection_kept_open() -> Iterator[None]:
    # The WSGI handler closes the database connection after each request, as a server must;
    # here it is the test's connection, inside the test's transaction (Django's test client
    # does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def operator_token(
    _connection_kept_open: None,
    operator: User,
    alice: User,
    pla: Any,
    make_printer: Any,
    site: Any,
    cube_upload: Any,
) -> str:
    """An operator (who may call every operation) on a farm with a job, a printer, a site."""
    job_submit(owner=alice, upload=cube_upload(), material=pla, quantity=1)
    make_printer("berlin-01")
    return AuthToken.objects.create(user=operator)[1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same requests every run: a failure here is reproducible
)
def test_the_live_api_keeps_to_its_schema(case: Any, operator_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {operator_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
