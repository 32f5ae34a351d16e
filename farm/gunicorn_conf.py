"""gunicorn's configuration for the farm's web process.

    python -m gunicorn -c python:farm.gunicorn_conf [--bind 0.0.0.0:8000]

`make run` (run_farm) starts exactly this, so the demo is what production runs. Threaded
workers (gthread) with the thread count from the connection budget (farm.connections): each
thread holds at most one database connection, so the web never holds more than
FARM_WEB_WORKERS × its threads, whatever the load; requests beyond that wait in the queue
instead of failing for want of a connection.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")

from django.conf import settings

_budget = settings.FARM_CONNECTIONS

wsgi_app = "farm.wsgi:application"
bind = [os.environ.get("FARM_WEB_BIND", "127.0.0.1:8000")]
worker_class = "gthread"
workers = _budget.web_workers
threads = _budget.threads
# Idle keep-alive connections wait in each worker's poller, not in a thread.
worker_connections = 1000
backlog = 2048
# Longer than any page's refresh (2-3 s) and a client's pause: a connection closed just as
# the client reuses it is an error the client sees (200 clients at the pages' own refresh rate
# met 5 such in a minute with 5 s).
keepalive = 15
# A worker silent this long is killed and replaced; uploads stream in chunks, so they are not.
timeout = 60
graceful_timeout = 20
# Recycle workers now and then (jittered, never all at once) so no leak grows for ever.
max_requests = 5000
max_requests_jitter = 500
proc_name = "farm-web"
# No control socket in $HOME: several farms (demo, bench, tests) run on one machine.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("FARM_LOG_LEVEL", "info").lower()
accesslog = "-" if settings.FARM_WEB_ACCESS_LOG else None
# A proxy in front (nginx) terminating TLS: gunicorn takes X-Forwarded-Proto only from these.
forwarded_allow_ips = os.environ.get("FARM_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Or gunicorn terminates TLS itself.
certfile = os.environ.get("FARM_TLS_CERT") or None
keyfile = os.environ.get("FARM_TLS_KEY") or None
