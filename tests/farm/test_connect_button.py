"""The dashboard offers Connect on an OctoPrint printer that is not connected, and sends it."""

from __future__ import annotations

from typing import Any

from django.test import Client

from farm.models import Event


def test_an_offline_octoprint_card_offers_connect_and_sends_it(
    client: Client, operator: Any, make_printer: Any
) -> None:
    octo = make_printer(
        "mk4-1",
        state="offline",
        state_message="not connected to the printer: connecting (attempt 3)",
        connection_kind="octoprint",
        connection_settings={"url": "http://10.0.0.7"},
    )
    sim = make_printer("sim-1", state="offline")
    client.force_login(operator)
    page = client.get("/operator/").content.decode()
    assert f"/operator/printers/{octo.pk}/connect/" in page
    assert f"/operator/printers/{sim.pk}/connect/" not in page  # nothing to connect there
    assert "connecting (attempt 3)" in page
    response = client.post(f"/operator/printers/{octo.pk}/connect/")
    assert response.status_code == 302
    assert Event.objects.filter(printer=octo, message="connect requested").exists()
