"""The Celery application. Its configuration (queues, routes, the beat schedule) is in settings."""

from __future__ import annotations

import os

from celery import Celery

from farm import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
broker.register()

app = Celery("farm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
