"""Fixtures the web tests share with tests/farm."""

from tests.farm.test_webhooks import receiver  # noqa: F401 (a real HTTP server for webhooks)
