"""Settings for the farm manager, driven by environment variables.

The defaults are the embedded mode: SQLite, a filesystem Celery broker and a file cache, so a
fresh checkout runs with nothing else installed. `FARM_DATABASE_URL` switches to PostgreSQL and
`FARM_REDIS_URL` switches the broker and the cache to Redis. Bad values fail loudly here, and
`farm.checks` reports configuration that is legal but wrong, with a hint.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from farm.connections import ConnectionBudget
from farm.task_names import TASK_QUEUES, Queue, TaskName
from slicing.limits import ENGINES as SLICING_ENGINES

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def envint(name: str, default: str, *, minimum: int | None = None) -> int:
    value = os.environ.get(name, default)
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def envfloat(name: str, default: str) -> float:
    value = os.environ.get(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def _conn_max_age() -> int:
    """Seconds a connection is kept between requests or tasks.

    Not under `runserver`: it starts a thread per request, and a persistent connection per
    thread is never closed (issue 10: the dev server held 90 of PostgreSQL's 100 connections
    after the load stopped). gunicorn's threads, Celery's pool and the fleet link's poll
    threads are bounded (farm.connections), so their connections are too.
    """
    if "runserver" in sys.argv[1:2]:
        return 0
    return envint("FARM_DB_CONN_MAX_AGE", "60", minimum=0)


def database_from_url(url: str) -> dict[str, object]:
    """Turn postgres://user:pass@host:port/name (or sqlite:///path) into a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        name = parts.path.lstrip("/")
        if not name:
            raise ImproperlyConfigured("FARM_DATABASE_URL must name a database: .../farm")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(name),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Reuse connections (every process bounds its threads: see farm.connections), and
            # check them first so a database restart costs one failed check, not a crash.
            "CONN_MAX_AGE": _conn_max_age(),
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        return sqlite_database(Path(unquote(parts.path)))
    raise ImproperlyConfigured(
        f"FARM_DATABASE_URL scheme {parts.scheme!r} is not supported: use postgres:// or sqlite://"
    )


def sqlite_database(path: Path) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # The web server, the worker and the fleet link write the same file: WAL lets readers
        # go on while one writes, IMMEDIATE takes the write lock up front (no deadlock on
        # lock upgrade), and the timeout waits out the other writers instead of failing.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
        "TEST": {"NAME": str(path.with_name(path.stem + "-test.sqlite3"))},
    }


VAR_DIR = Path(envstr("FARM_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Off unless asked for: debug pages show settings, local variables and SQL to whoever errs.
DEBUG = envbool("FARM_DEBUG", "false")


def _secret_key() -> str:
    """The key from FARM_SECRET_KEY, else one generated per checkout and kept in var/.

    There is no hard-coded fallback. The generated key suits one machine (the embedded
    default, `make run`); several web servers must share one FARM_SECRET_KEY.
    """
    key = envstr("FARM_SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Keys for printer secrets (OctoPrint API keys), comma-separated for rotation: the first
# encrypts, all decrypt. Empty: a key derived from SECRET_KEY, which always decrypts too.
FARM_ENCRYPTION_KEY = [k.strip() for k in envstr("FARM_ENCRYPTION_KEY").split(",") if k.strip()]
ALLOWED_HOSTS = [h for h in envstr("FARM_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "axes",
    "farm.apps.FarmAdminConfig",  # django.contrib.admin, operators let in (farm/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "farm.apps.FarmConfig",
    "printers.apps.PrintersConfig",
    "slicing.apps.SlicingConfig",
]

MIDDLEWARE = [
    # First: a body over its limit is refused before anything reads it (farm.middleware).
    "farm.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in person's time zone for pages and forms (farm.local_time).
    "farm.local_time.LocalTimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "farm.urls"
WSGI_APPLICATION = "farm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The farm's own first: its registration/ pages, not the admin's look-alikes.
        "DIRS": [BASE_DIR / "farm" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "farm.views.context.roles",
            ],
        },
    },
]

_database_url = envstr("FARM_DATABASE_URL")
DATABASES = {
    "default": database_from_url(_database_url)
    if _database_url
    else sqlite_database(VAR_DIR / "farm.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("FARM_REDIS_URL")
CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("FARM_CACHE_PREFIX", "farm"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Live state of every printer lives here; do not let culling drop it.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": envint("FARM_PASSWORD_MIN_LENGTH", "10", minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Log-in throttling (django-axes): after FARM_LOGIN_FAILURE_LIMIT failed log-ins for one user
# name from one address, that pair is locked out for FARM_LOGIN_COOLOFF_MINUTES. Keyed by
# the pair, so a stranger cannot lock a colleague out from everywhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("FARM_LOGIN_FAILURE_LIMIT", "5", minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("FARM_LOGIN_COOLOFF_MINUTES", "15", minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "api_key"]
AXES_VERBOSE = False  # failures and lock-outs are still logged; not a banner per command
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("FARM_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves it (empty until `collectstatic`)
# Served by the app (WhiteNoise), compressed once `collectstatic` has run; until then straight
# from the apps' folders, so a fresh checkout serves its pages with nothing collected.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(envstr("FARM_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = (
    "/media/"  # never served directly: uploads are downloaded through views that check access
)

# Uploads: refused past this size while streaming (see farm.uploads), kept on disk, not in memory.
FARM_MAX_UPLOAD_MB = envint("FARM_MAX_UPLOAD_MB", "200", minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Every other request body (forms, admin) is refused past this before it is read
# (farm.middleware); an upload form's past FARM_MAX_UPLOAD_MB + FARM_UPLOAD_FORM_MARGIN_MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("FARM_MAX_FORM_KB", "2560", minimum=64) * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000  # an admin action over many rows
FARM_UPLOAD_FORM_MARGIN_MB = envint("FARM_UPLOAD_FORM_MARGIN_MB", "16", minimum=1)
FILE_UPLOAD_HANDLERS = [
    "farm.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FARM_MAX_QUANTITY = envint("FARM_MAX_QUANTITY", "5000", minimum=1)
# Copies of a part sliced onto one plate (one run); a failed run loses all of them.
FARM_MAX_COPIES_PER_PLATE = envint("FARM_MAX_COPIES_PER_PLATE", "6", minimum=1)
# The currency of material prices and machine rates, shown beside every cost (farm.pricing).
FARM_CURRENCY = envstr("FARM_CURRENCY", "EUR")
# The planner's weights (farm/services/plan_inputs.plan_options): a filament change is worth
# this much makespan to the farm (an operator's time, a spool off its printer), and a pass
# keeps the runs the last plan promised unless a fresh plan ends sooner by more than this
# share of the horizon.
FARM_CHANGE_PENALTY_MINUTES = envfloat("FARM_CHANGE_PENALTY_MINUTES", "60")
FARM_REPLAN_GAIN = envfloat("FARM_REPLAN_GAIN", "0.02")
# The files (upload, G-code, thumbnail) of rejected and cancelled jobs are deleted this many
# days after the job ended (farm.services.cleanup); the jobs and their history stay.
FARM_UPLOAD_RETENTION_DAYS = envint("FARM_UPLOAD_RETENTION_DAYS", "30", minimum=0)

# Simulated printers print this many times faster than real time (a 90 min print takes 90 s at 60).
FARM_SIM_SPEEDUP = envfloat("FARM_SIM_SPEEDUP", "60")
# How often the fleet link polls each printer, and the beat's periodic scheduling pass.
FARM_POLL_SECONDS = envfloat("FARM_POLL_SECONDS", "1.0")
FARM_SCHEDULE_SECONDS = envfloat("FARM_SCHEDULE_SECONDS", "10")
# Dispatches (uploads to printers) one site's worker runs at once: the threads of its pool
# (`manage.py site_worker`). A farm sends one file to hundreds of printers at once; this bounds
# how many uploads share the site's network, and each holds one database connection.
FARM_SITE_DISPATCH_CONCURRENCY = envint("FARM_SITE_DISPATCH_CONCURRENCY", "16", minimum=1)
# The fleet link (printers/fleetlink.py): requests under way at once per site, OctoPrint's push
# rate (one `current` per throttle × 0.5 s; changes come at once as events), and how often it
# looks for added, removed or re-configured printers.
FARM_FLEET_PER_SITE = envint("FARM_FLEET_PER_SITE", "256", minimum=1)
FARM_PUSH_THROTTLE = envint("FARM_PUSH_THROTTLE", "10", minimum=1)
FARM_FLEET_REFRESH_SECONDS = envfloat("FARM_FLEET_REFRESH_SECONDS", "10")
# A printer that does not answer this long during a print has its run marked in doubt.
FARM_OFFLINE_GRACE_SECONDS = envfloat("FARM_OFFLINE_GRACE_SECONDS", "60")
# A run in doubt this long goes before the operators with "reprint elsewhere now"; until a
# person decides, its copies are never printed again (the printer may still be printing them).
FARM_IN_DOUBT_ATTENTION_SECONDS = envfloat("FARM_IN_DOUBT_ATTENTION_SECONDS", "900")
# A site whose fleet link has sent no heartbeat for this long (counted from when the centre
# noticed) is down: its not-yet-started work goes to other sites (farm.services.sites).
FARM_SITE_DOWN_GRACE_SECONDS = envfloat("FARM_SITE_DOWN_GRACE_SECONDS", "60")
# Before a bed-clear is confirmed, the scheduler assumes an operator gets to it within this.
FARM_BED_CLEAR_SECONDS = envfloat("FARM_BED_CLEAR_SECONDS", "900")
# An operator swapping filament (material or colour) on one printer.
FARM_MATERIAL_CHANGE_SECONDS = envfloat("FARM_MATERIAL_CHANGE_SECONDS", "600")
# Records (farm.services.maintenance, spools, notifications): how often the records sweep
# looks for maintenance due, failing printers and low stock; the window and the least runs a
# printer's failure rate is judged on; Spoolman's base URL (empty: no sync).
FARM_RECORDS_SWEEP_SECONDS = envfloat("FARM_RECORDS_SWEEP_SECONDS", "300")
FARM_FAILURE_WINDOW_DAYS = envint("FARM_FAILURE_WINDOW_DAYS", "30", minimum=1)
FARM_FAILURE_MIN_RUNS = envint("FARM_FAILURE_MIN_RUNS", "10", minimum=1)
FARM_SPOOLMAN_URL = envstr("FARM_SPOOLMAN_URL").rstrip("/")
FARM_SPOOLMAN_SECONDS = envfloat("FARM_SPOOLMAN_SECONDS", "300")

# Celery: the embedded default is kombu's filesystem transport (made atomic in farm.broker), a
# real broker that needs no server. Every process on this machine shares the folder.
CELERY_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    for sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "farmfs://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        # The filesystem transport polls its folder; the default (1 s) would cap the farm at
        # one task a second per worker.
        "polling_interval": 0.1,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the task for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = Queue.DEFAULT.value
CELERY_TASK_ROUTES = {name.value: {"queue": queue.value} for name, queue in TASK_QUEUES.items()}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "scheduling-pass": {"task": TaskName.SCHEDULE_PASS.value, "schedule": FARM_SCHEDULE_SECONDS},
    # Work whose task was lost (farm.services.sweeps) is sent again within a minute: a lapsed
    # lease (20 s) plus at most one interval.
    "stuck-work-sweep": {"task": TaskName.STUCK_WORK_SWEEP.value, "schedule": 30.0},
    "uploads-cleanup": {"task": TaskName.UPLOADS_CLEANUP.value, "schedule": 3600.0},
    # Sites whose fleet link stopped are marked down, and up again (farm.services.sites).
    "sites-sweep": {"task": TaskName.SITES_SWEEP.value, "schedule": 10.0},
    # Maintenance due, failing printers, low stock; and notifications held over quiet hours.
    "records-sweep": {"task": TaskName.RECORDS_SWEEP.value, "schedule": FARM_RECORDS_SWEEP_SECONDS},
    "notifications-send": {"task": TaskName.NOTIFICATIONS_SEND.value, "schedule": 60.0},
}
if FARM_SPOOLMAN_URL:
    CELERY_BEAT_SCHEDULE["spoolman-sync"] = {
        "task": TaskName.SPOOLMAN_SYNC.value,
        "schedule": FARM_SPOOLMAN_SECONDS,
    }
# A broker outage must not stop a web request for long (the sweep sends what failed), nor
# make a worker give up reconnecting.
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_TIME_LIMIT = envint("FARM_TASK_TIME_LIMIT", "900", minimum=10)
# Checking and slicing one file: past this the job is rejected with the reason.
FARM_SLICE_TIME_LIMIT = envfloat("FARM_SLICE_TIME_LIMIT", "600")
# Memory one slice may add to its worker process (address space); past it the job is rejected
# with the reason. 0: no limit. The slicing pool's concurrency times this must fit the machine.
FARM_SLICE_MEMORY_MB = envint("FARM_SLICE_MEMORY_MB", "3072", minimum=0)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Slicing (slicing/README.md): read here only, and handed to the slicing package as one value,
# farm.slicing_config.slicing_limits(), so that slicing reads no environment.
SLICING_MAX_FILE_MB = envint("SLICING_MAX_FILE_MB", "256", minimum=1)
SLICING_MAX_UNZIPPED_MB = envint("SLICING_MAX_UNZIPPED_MB", "1024", minimum=1)
SLICING_MAX_FACES = envint("SLICING_MAX_FACES", "2000000", minimum=1)
SLICING_MAX_GCODE_MB = envint("SLICING_MAX_GCODE_MB", "512", minimum=1)
# Threads one built-in slice cuts and plans its layers on; 0: every core the worker may use
# (the slicing pool runs one slice at a time per worker, README "Production").
SLICING_THREADS = envint("SLICING_THREADS", "0", minimum=0)
# Overrides every printer profile's engine; empty: the profile's ("auto").
SLICING_ENGINE = envstr("SLICING_ENGINE").lower()
if SLICING_ENGINE and SLICING_ENGINE not in SLICING_ENGINES:
    raise ImproperlyConfigured(
        f"SLICING_ENGINE must be one of {', '.join(SLICING_ENGINES)}, got {SLICING_ENGINE!r}"
    )
# The farm's slice cache (MEDIA_ROOT/gcode) is trimmed to this every hour, least recently used
# first; the G-code of work still to print is never evicted (farm.services.slice_cache).
SLICING_CACHE_MAX_MB = envint("SLICING_CACHE_MAX_MB", "20480", minimum=1)
# The slice cache when prepare() is given no folder; empty: a gcode/ folder beside the upload.
SLICING_CACHE_DIR = envstr("SLICING_CACHE_DIR")
# Where each slice makes its own temporary folder (always removed); empty: .tmp/ in the cache.
SLICING_TEMP_DIR = envstr("SLICING_TEMP_DIR")
PRUSASLICER = envstr("PRUSASLICER", "prusa-slicer")  # the executable's name on PATH, or a path
CURAENGINE = envstr("CURAENGINE", "CuraEngine")  # the executable's name on PATH, or a path
# The folder with Cura's fdmprinter.def.json; empty: /usr/share/cura/resources/definitions,
# then var/cura/definitions (where .ci/run unpacks them from Debian's cura package).
SLICING_CURA_DEFINITIONS = envstr("SLICING_CURA_DEFINITIONS")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("FARM_LOG_LEVEL", "INFO")},
    # Apprise logs the URLs it sends to at DEBUG and INFO, and they hold tokens: warnings only.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "apprise": {"level": "WARNING"}},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Served over HTTPS (gunicorn with FARM_TLS_CERT/FARM_TLS_KEY, or a proxy in front that
# gunicorn trusts for X-Forwarded-Proto, see farm/gunicorn_conf.py): cookies only over HTTPS,
# plain HTTP redirected, and browsers told to use nothing else (HSTS).
FARM_HTTPS = envbool("FARM_HTTPS", "false")
SESSION_COOKIE_SECURE = FARM_HTTPS
CSRF_COOKIE_SECURE = FARM_HTTPS
SECURE_SSL_REDIRECT = FARM_HTTPS
SECURE_HSTS_SECONDS = envint("FARM_HSTS_SECONDS", "31536000", minimum=0) if FARM_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("FARM_HSTS_INCLUDE_SUBDOMAINS", "true")
# Only makes the domain eligible for the browsers' preload list; nothing is submitted.
SECURE_HSTS_PRELOAD = envbool("FARM_HSTS_PRELOAD", "true")
CSRF_TRUSTED_ORIGINS = [o for o in envstr("FARM_CSRF_TRUSTED_ORIGINS").split(",") if o]
# Content security policy (django-csp), on every page, demo included: scripts and styles from
# the farm only (farm/static/farm/farm.js; inline style attributes for progress bars), no
# plug-ins, no framing, forms post to the farm only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **({"upgrade-insecure-requests": True} if FARM_HTTPS else {}),
    }
}
# The REST API (farm/api/, README "REST API"): every endpoint needs a log-in, a token in
# `Authorization: Token ...` (django-rest-knox: hashed at rest, one per integration) or the
# web's session for the browsable API; per-user and per-address request rates.
FARM_API_TOKEN_DAYS = envint("FARM_API_TOKEN_DAYS", "365", minimum=0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "farm.api.auth.FarmTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": envstr("FARM_API_ANON_RATE", "30/min"),
        "user": envstr("FARM_API_USER_RATE", "600/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
REST_KNOX = {
    # A slicer's key is typed in once: it lasts FARM_API_TOKEN_DAYS (0: until revoked).
    "TOKEN_TTL": timedelta(days=FARM_API_TOKEN_DAYS) if FARM_API_TOKEN_DAYS else None,
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Farm manager API",
    "DESCRIPTION": "Jobs, printers, sites, the queue and materials of the print farm.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from the drf-spectacular-sidecar package: nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "farm.api.serializers.JOB_STATUSES",
        "RunStatusEnum": "farm.api.serializers.RUN_STATUSES",
    },
}
# Error reports (mail to ADMINS, debug pages if FARM_DEBUG is on) hide API keys, passwords and
# secrets in settings, POST data and local variables alike (farm.errors).
DEFAULT_EXCEPTION_REPORTER_FILTER = "farm.errors.SecretHidingExceptionReporterFilter"

# Mail (password reset): printed on the web's console in the demo, SMTP once FARM_SMTP_HOST is set.
FARM_SMTP_HOST = envstr("FARM_SMTP_HOST")
if FARM_SMTP_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = FARM_SMTP_HOST
    EMAIL_PORT = envint("FARM_SMTP_PORT", "587", minimum=1)
    EMAIL_HOST_USER = envstr("FARM_SMTP_USER")
    EMAIL_HOST_PASSWORD = envstr("FARM_SMTP_PASSWORD")
    EMAIL_USE_TLS = envbool("FARM_SMTP_STARTTLS", "true")
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = envstr("FARM_MAIL_FROM", "farm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PASSWORD_RESET_TIMEOUT = 3 * 3600

# The database connection budget (farm.connections): the web's threads are what is left of
# FARM_DB_CONNECTIONS once the workers, beat, fleet links and a reserve have theirs.
# `manage.py check` warns when the configured processes need more than the budget.
FARM_CONNECTIONS = ConnectionBudget(
    total=envint("FARM_DB_CONNECTIONS", "50", minimum=4),
    web_workers=envint("FARM_WEB_WORKERS", "2", minimum=1),
    web_threads=envint("FARM_WEB_THREADS", "0", minimum=0),
    worker_connections=envint("FARM_DB_WORKER_CONNECTIONS", "6", minimum=0),
    fleet_links=envint("FARM_FLEET_LINKS", "1", minimum=0),
    fleet_link_threads=envint("FARM_FLEET_LINK_THREADS", "8", minimum=1),
)
# gunicorn's access log on stdout (off: the pages poll every few seconds; a proxy logs too).
FARM_WEB_ACCESS_LOG = envbool("FARM_WEB_ACCESS_LOG", "false")
