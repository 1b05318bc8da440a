"""Settings for the DPO portal, read from the environment.

Every variable is listed with its default in README.md and .env.example; the defaults
let a fresh clone run on one machine (SQLite and the data folder under ./data, Redis
on localhost).
"""

import secrets
from pathlib import Path

import dj_database_url

from dpo_portal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = Path(env_str("DPO_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key():
    # Kept in the data folder so sessions survive a restart of `make run`.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "") or _development_secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_rq",
    "dpo_portal",
    "datasets_app",
    "jobs_app",
    "models_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dpo_portal.auth.ApiKeyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "dpo_portal.urls"
WSGI_APPLICATION = "dpo_portal.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'portal.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web process and the workers write the same rows; wait for a lock
    # instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_portal.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic writes here for production; whitenoise serves it.
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True

# Redis and the queues. Tests point REDIS_URL at a database of their own.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
    # A training run lasts as long as it lasts: -1 means no RQ timeout at all.
    "training": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1},
    # A serving process runs until its last deployment ends: no RQ timeout.
    "inference": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1},
}
RQ_SHOW_ADMIN_LINK = True  # the queues appear in the admin under "Django RQ"

# Datasets.
DPO_UPLOAD_MAX_BYTES = env_int("DPO_UPLOAD_MAX_BYTES", 500 * 1024 * 1024)
DPO_API_UPLOAD_MAX_BYTES = env_int("DPO_API_UPLOAD_MAX_BYTES", 5 * 1024**3)
DPO_UPLOAD_EXPIRES_HOURS = env_int("DPO_UPLOAD_EXPIRES_HOURS", 24)
DPO_MIN_EXAMPLES = env_int("DPO_MIN_EXAMPLES", 3)
DPO_MAX_EXAMPLES = env_int("DPO_MAX_EXAMPLES", 3_000_000)
# Processes that validate one large file together (each takes a part of it); more
# than 1 pays only where cores are idle, as on a dedicated worker host.
DPO_VALIDATION_WORKERS = env_int("DPO_VALIDATION_WORKERS", 1)

# Models. The default base model is prepared into the data folder by
# `manage.py prepare_base_model`.
DPO_DEFAULT_BASE_MODEL = env_str("DPO_DEFAULT_BASE_MODEL", "smollm2-135m-instruct")
DPO_HEARTBEAT_SECONDS = env_int("DPO_HEARTBEAT_SECONDS", 5)

DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DPO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
    },
}
DPO_BASE_MODELS_DIR = env_str("DPO_BASE_MODELS_DIR", str(DATA_DIR / "base_models"))

# Accounts and security (issue 5). The cache holds the sign-in counters, shared by
# every web process through Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "dpo-portal",
        "TIMEOUT": 300,
    }
}
DPO_SIGNIN_MAX_FAILURES_PER_USER = env_int("DPO_SIGNIN_MAX_FAILURES_PER_USER", 5)
DPO_SIGNIN_MAX_FAILURES_PER_ADDRESS = env_int("DPO_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20)
DPO_SIGNIN_LOCK_MINUTES = env_int("DPO_SIGNIN_LOCK_MINUTES", 15)

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy, which must set X-Forwarded-Proto itself.
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_PRELOAD = not DEBUG

# Serving deployed models (models_app).
DPO_INFERENCE_TIMEOUT = env_int("DPO_INFERENCE_TIMEOUT", 120)
DPO_INFERENCE_MAX_TOKENS = env_int("DPO_INFERENCE_MAX_TOKENS", 2048)

# DPO job lifecycle: queues per GPU kind, lost workers, the reconciler
# (jobs_app/reconcile.py). Every training queue has no RQ timeout.
DPO_TRAINING_QUEUES = env_list("DPO_TRAINING_QUEUES", ["training"])
for _queue_name in DPO_TRAINING_QUEUES:
    RQ_QUEUES.setdefault(_queue_name, {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1})
DPO_LOST_AFTER_SECONDS = env_int("DPO_LOST_AFTER_SECONDS", 45)
DPO_MAX_ATTEMPTS = env_int("DPO_MAX_ATTEMPTS", 3)
DPO_RECONCILE_SECONDS = env_int("DPO_RECONCILE_SECONDS", 10)
DPO_PENDING_GRACE_SECONDS = env_int("DPO_PENDING_GRACE_SECONDS", 30)
# Workers run the reconciler in a thread and report to RQ more often than its default.
# dpo_portal/queues.py already enqueues after commit, so django-rq enqueues at once.
RQ = {"WORKER_CLASS": "jobs_app.worker.ReconcilingWorker", "COMMIT_MODE": "auto"}
