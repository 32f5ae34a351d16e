"""Settings for the farm manager, driven by environment variables.

The defaults are the embedded mode: SQLite, a filesystem Celery broker and a file cache, so a
fresh checkout runs with nothing else installed. `FARM_DATABASE_URL` switches to PostgreSQL and
`FARM_REDIS_URL` switches the broker and the cache to Redis. Bad values fail loudly here, and
`farm.checks` reports configuration that is legal but wrong, with a hint.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

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
            # Reuse connections in long-lived processes (fleet link, workers), and check them
            # first so a database restart costs one failed check, not a crashed loop.
            "CONN_MAX_AGE": 60,
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

DEBUG = envbool("FARM_DEBUG", "true")


def _secret_key() -> str:
    """The key from FARM_SECRET_KEY; in debug (the demo), one generated per checkout.

    There is no hard-coded fallback: a production deployment (FARM_DEBUG=false) without a
    key refuses to start.
    """
    key = envstr("FARM_SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("FARM_SECRET_KEY must be set when FARM_DEBUG is false")
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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "farm.apps.FarmConfig",
    "printers.apps.PrintersConfig",
    "slicing.apps.SlicingConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "farm.urls"
WSGI_APPLICATION = "farm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("FARM_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(envstr("FARM_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = (
    "/media/"  # never served directly: uploads are downloaded through views that check access
)

# Uploads: refused past this size while streaming (see farm.uploads), kept on disk, not in memory.
FARM_MAX_UPLOAD_MB = envint("FARM_MAX_UPLOAD_MB", "200", minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "farm.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FARM_MAX_QUANTITY = envint("FARM_MAX_QUANTITY", "5000", minimum=1)
# Copies of a part sliced onto one plate (one run); a failed run loses all of them.
FARM_MAX_COPIES_PER_PLATE = envint("FARM_MAX_COPIES_PER_PLATE", "6", minimum=1)

# Simulated printers print this many times faster than real time (a 90 min print takes 90 s at 60).
FARM_SIM_SPEEDUP = envfloat("FARM_SIM_SPEEDUP", "60")
# How often the fleet link polls each printer, and the beat's periodic scheduling pass.
FARM_POLL_SECONDS = envfloat("FARM_POLL_SECONDS", "1.0")
FARM_SCHEDULE_SECONDS = envfloat("FARM_SCHEDULE_SECONDS", "10")
# A printer that does not answer this long during a print has its run marked in doubt.
FARM_OFFLINE_GRACE_SECONDS = envfloat("FARM_OFFLINE_GRACE_SECONDS", "60")
# A run in doubt this long goes before the operators with "reprint elsewhere now"; until a
# person decides, its copies are never printed again (the printer may still be printing them).
FARM_IN_DOUBT_ATTENTION_SECONDS = envfloat("FARM_IN_DOUBT_ATTENTION_SECONDS", "900")
# Before a bed-clear is confirmed, the scheduler assumes an operator gets to it within this.
FARM_BED_CLEAR_SECONDS = envfloat("FARM_BED_CLEAR_SECONDS", "900")
# An operator swapping filament (material or colour) on one printer.
FARM_MATERIAL_CHANGE_SECONDS = envfloat("FARM_MATERIAL_CHANGE_SECONDS", "600")

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
SLICING_MAX_FACES = envint("SLICING_MAX_FACES", "5000000", minimum=1)
SLICING_MAX_GCODE_MB = envint("SLICING_MAX_GCODE_MB", "512", minimum=1)
# Overrides every printer profile's engine; empty: the profile's ("auto").
SLICING_ENGINE = envstr("SLICING_ENGINE").lower()
if SLICING_ENGINE and SLICING_ENGINE not in SLICING_ENGINES:
    raise ImproperlyConfigured(
        f"SLICING_ENGINE must be one of {', '.join(SLICING_ENGINES)}, got {SLICING_ENGINE!r}"
    )
# The slice cache when prepare() is given no folder; empty: a gcode/ folder beside the upload.
SLICING_CACHE_DIR = envstr("SLICING_CACHE_DIR")
PRUSASLICER = envstr("PRUSASLICER", "prusa-slicer")  # the executable's name on PATH, or a path

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("FARM_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
