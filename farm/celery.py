"""The Celery application: queues `slicing` (CPU), `dispatch` (I/O) and `default`."""

from __future__ import annotations

import os

from celery import Celery

from farm import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
broker.register()

app = Celery("farm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _beat_schedule() -> dict[str, dict[str, object]]:
    from django.conf import settings

    return {
        "scheduling-pass": {
            "task": "farm.tasks.schedule_pass_task",
            "schedule": settings.FARM_SCHEDULE_SECONDS,
        },
        "stuck-work-sweep": {"task": "farm.tasks.stuck_work_sweep_task", "schedule": 60.0},
    }


@app.on_after_finalize.connect
def _setup_beat(sender: Celery, **kwargs: object) -> None:
    sender.conf.beat_schedule = _beat_schedule()
