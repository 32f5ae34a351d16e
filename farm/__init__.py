"""The farm: what prints where and when. Also the Django project (settings, urls, celery)."""

from __future__ import annotations

from farm.celery import app as celery_app

__all__ = ["celery_app"]
