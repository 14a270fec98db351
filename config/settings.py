"""Mahalle settings: one environment-driven file (see docs/operations.md for every variable)."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MAHALLE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)


def _local_secret_key() -> str:
    """Without SECRET_KEY in the environment, a single-machine install keeps a random key in var/secret_key
    (created once, readable by its owner only), as self-hosted apps do. Production sets SECRET_KEY."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret_key()

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "js_lib_htmx",
    "django_tasks",
    "django_tasks_db",
    "mahalle.core",
    "mahalle.geo",
    "mahalle.accounts",
    "mahalle.audit",
    "mahalle.registry",
    "mahalle.synth",
    "mahalle.screening",
    "mahalle.cases",
    "mahalle.tracing",
    "mahalle.needs",
    "mahalle.aid",
    "mahalle.analytics",
    "mahalle.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mahalle.core.request_context.RequestContextMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, so that it sees the exceptions of the views first: NotFound → 404 page, PermissionDenied → 403 page
    "mahalle.web.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],  # the shell's base templates live in mahalle/web/templates, each app's in its own
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "mahalle.web.context_processors.shell",
            ],
        },
    },
]

# --- database: DATABASE_URL decides; default is the embedded SQLite in ./var/ -------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'mahalle.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL + busy timeout: readers never block the writer, writers wait instead of failing.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- language: Persian first, English switch ----------------------------------------------------------
LANGUAGE_CODE = "fa"
LANGUAGES = [("fa", "فارسی"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "mahalle" / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Tehran")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# Uploads: large imports stream to disk; anything above the limit is refused with a clear error.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MAHALLE_MAX_IMPORT_BYTES = int(os.environ.get("MAHALLE_MAX_IMPORT_BYTES", str(512 * 1024 * 1024)))
MAHALLE_IMPORT_BATCH_SIZE = int(os.environ.get("MAHALLE_IMPORT_BATCH_SIZE", "5000"))

# --- the one registry of need: record linkage thresholds (match probability; docs/linkage.md says why) ----
MAHALLE_LINKAGE = {
    "AUTO_LINK": float(os.environ.get("MAHALLE_LINKAGE_AUTO_LINK", "0.99")),
    "REVIEW": float(os.environ.get("MAHALLE_LINKAGE_REVIEW", "0.80")),
}
MAHALLE_AGENCY_LIST_MAX_ROWS = int(os.environ.get("MAHALLE_AGENCY_LIST_MAX_ROWS", "1000000"))

# --- contact tracing: follow-up period after the last exposure, superspreading threshold -------------------
MAHALLE_TRACING = {
    "FOLLOW_UP_DAYS": int(os.environ.get("MAHALLE_TRACING_FOLLOW_UP_DAYS", "14")),
    "SUPERSPREADING_CASES": int(os.environ.get("MAHALLE_TRACING_SUPERSPREADING_CASES", "5")),
    "MAX_EXPOSURE_AGE_DAYS": 30,
}

# --- aid: one-time delivery codes go through this SMS gateway (the console backend logs them) -------------
MAHALLE_SMS_BACKEND = os.environ.get("MAHALLE_SMS_BACKEND", "mahalle.aid.sms.ConsoleBackend")

# --- background work: Django's tasks API (django-tasks backport) on the database backend ------------------
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
