"""Settings for the portal, all read from the environment (see README's table)."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

# Where the embedded default keeps its SQLite file, broker queue and beat schedule.
EMBEDDED_DIR = Path(env_str("EMBEDDED_DIR", str(BASE_DIR / ".embedded")))

DEBUG = env_bool("DEBUG", False)
REDIS_URL = env_url("REDIS_URL", None, schemes=("redis", "rediss"))

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
# The key `make run` made for this checkout (scripts/run.sh), so that a management command
# run beside it (enrol_cohort, createsuperuser) needs no setting of its own.
_EMBEDDED_KEY = EMBEDDED_DIR / "secret-key"
SECRET_KEY = (
    env_str("SECRET_KEY")
    or (_EMBEDDED_KEY.read_text().strip() if _EMBEDDED_KEY.is_file() else "")
    or _DEV_SECRET_KEY
)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Production (DEBUG=false) refuses to start with the "
        "development key: set SECRET_KEY or SECRET_KEY_FILE, or DEBUG=true for local work."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "portal",
    "curriculum",
    "labs",
    "labs.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.form_encoding.FormEncodingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.htmx_session.HtmxLoginRedirectMiddleware",
    # Innermost: the page it fills in still passes the CSRF, messages and common
    # middleware on its way out (cookie set, messages marked read, Content-Length).
    "portal.method_not_allowed.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.roles",
            ],
        },
    },
]

# Database: PostgreSQL from DATABASE_URL, else the embedded SQLite file.
_default_sqlite = f"sqlite:///{EMBEDDED_DIR / 'db.sqlite3'}"
_database_url = env_url(
    "DATABASE_URL", _default_sqlite, schemes=("postgres", "postgresql", "sqlite")
)
# Connections are kept for a minute; before one is reused (once per request or task that
# queries), a cheap check replaces it if the database restarted meanwhile.
DATABASES = {
    "default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite cannot create the folder its file lives in; the first command would fail.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server, worker and beat share one file: WAL lets readers run beside a
    # writer, and IMMEDIATE transactions wait for the lock instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Hashing a megabyte-long password costs the server; 128 is plenty for a passphrase.
    {"NAME": "portal.password_length.MaximumLengthValidator"},
]
LOGIN_URL = "login"
# ModelBackend, with the user read from the cache (dropped whenever the user changes).
AUTHENTICATION_BACKENDS = ["portal.auth_backend.CachedUserBackend"]
LOGIN_REDIRECT_URL = "course-home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app directories when collectstatic has not been run.
WHITENOISE_USE_FINDERS = True

_cache_prefix = env_str("CACHE_KEY_PREFIX", "")
# Sessions are read from a cache shared by every web process (Redis, or files in the
# embedded default) and written through to the database, so a status poll costs no
# session query. With Redis, each process also keeps a copy of what it read, which
# Redis invalidates on every write (portal/near_cache.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "portal.near_cache.NearRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _cache_prefix,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(EMBEDDED_DIR / "cache"),
            "KEY_PREFIX": _cache_prefix,
            # Each learner keeps a page and a pass per course page they read (300, the
            # default, culls a third of everything at random once reached).
            "OPTIONS": {"MAX_ENTRIES": 3000},
        }
    }
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Messages wait in the session, not in a cookie of their own: a waiting message changes
# the session, which sends the next page through Django to show it
# (portal/page_shortcut.py), and no request pays for reading a signed cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Celery: Redis when REDIS_URL or CELERY_BROKER_URL is set, else kombu's filesystem
# transport under EMBEDDED_DIR. Both need a real worker process; eager mode is never
# used, so no cloud call can run inside a web request.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    REDIS_URL or "filesystem://",
    schemes=("redis", "rediss", "filesystem", "sqla+sqlite", "sqla+postgresql"),
)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
# Redis redelivers an unacknowledged task after this; it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS: dict = (
    {"visibility_timeout": 3600} if CELERY_BROKER_URL.startswith("redis") else {}
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "portal.embedded_broker:Transport"  # Whole messages only.
    _queue_dir = EMBEDDED_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    if CELERY_RESULT_BACKEND is None:
        CELERY_RESULT_BACKEND = f"file://{EMBEDDED_DIR / 'results'}"
# A separate queue name lets several test runs or deployments share one Redis.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 150, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's own Django fix-up then closes a task's database connection only every 1000th
# task; portal/celery.py drops it sooner when it failed or is older than CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = 1000
# Beat: refresh what is active, re-send launches a lost message left behind, expire.
LABS_REFRESH_SECONDS = env_int("LABS_REFRESH_SECONDS", 5, minimum=1)
LABS_RESUBMIT_AFTER_SECONDS = env_int("LABS_RESUBMIT_AFTER_SECONDS", 600, minimum=1)
LABS_FOLLOWUP_AFTER_SECONDS = env_int("LABS_FOLLOWUP_AFTER_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE: dict = {
    "refresh-active-resources": {
        "task": "labs.tasks.resource_refresh_all_task",
        "schedule": float(LABS_REFRESH_SECONDS),
        "options": {"expires": LABS_REFRESH_SECONDS},
    },
    "resubmit-stale-launches": {
        "task": "labs.tasks.resource_resubmit_stale_task",
        "schedule": 60.0,
    },
    "expire-resources": {"task": "labs.tasks.resource_expire_task", "schedule": 60.0},
}

# localcloud: the AWS-compatible endpoint the demo cohort's cloud account points at.
LOCALCLOUD_URL = env_url("LOCALCLOUD_URL", "http://127.0.0.1:4566", schemes=("http", "https"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
