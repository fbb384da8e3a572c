"""Django settings, read from the environment.

DATABASE_URL picks the database (PostgreSQL when it says so); without it dealpilot uses an
embedded SQLite file in the user's data directory (DEALPILOT_DATA_DIR overrides the folder).
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from platformdirs import user_data_dir

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("DEALPILOT_DATA_DIR") or user_data_dir("dealpilot", appauthor=False))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """A key from the environment, or one generated once and kept beside the database."""
    if key := os.environ.get("DEALPILOT_SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEALPILOT_DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("DEALPILOT_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "axes",  # login throttling
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # the API docs (Swagger UI) from ninja's own static files, not a CDN
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "simple_history",  # field history of the records people edit
    "dealpilot.crm",
    "dealpilot.imports",
    "dealpilot.performance",
    "dealpilot.planning",
    "dealpilot.deals",
    "dealpilot.enablement",
    "dealpilot.cadence",
    "dealpilot.forecasting",
    "dealpilot.history",
    "dealpilot.recycle_bin",
    "dealpilot.today",
    "dealpilot.notifications",
    "dealpilot.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before everything that may answer on its own (static files, CSRF refusals, lockouts, the API's
    # guards, error pages), so that every response carries both policies.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # field history records who made a change
    "dealpilot.middleware.RefuseNulCharacters",  # no text holds NUL, API or page (PostgreSQL cannot store it)
    "dealpilot.crm.visibility.TeamTreePerRequest",  # the team tree read once per request, not at every scope check
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into its answer
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: after AXES_FAILURE_LIMIT failed logins for one username from one address, that pair
# is locked out for the cool-off time; a successful login resets the count.
AXES_FAILURE_LIMIT = int(os.environ.get("DEALPILOT_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("DEALPILOT_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False

# Deleted records stay in the recycle bin, restorable, for this many days; `dealpilot purge-recycle-bin`
# deletes them for good afterwards.
RECYCLE_BIN_DAYS = int(os.environ.get("DEALPILOT_RECYCLE_BIN_DAYS", "30"))

ROOT_URLCONF = "dealpilot.urls"
WSGI_APPLICATION = "dealpilot.wsgi.application"
AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

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
                "dealpilot.notifications.context.bell",
            ],
        },
    },
]

SQLITE_PATH = DATA_DIR / "dealpilot.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while an import writes; IMMEDIATE avoids
        # "database is locked" upgrades from read to write inside a transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

TASKS = {
    "default": {
        "BACKEND": os.environ.get("DEALPILOT_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# File cache: shared by the web workers and the task worker on one machine (import progress).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
    }
}
if os.environ.get("REDIS_URL"):
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DEALPILOT_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from the packages (finders); an empty root keeps it quiet
WHITENOISE_USE_FINDERS = True  # serve app static files straight from the installed packages
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dealpilot.web.finders.PlotlyFinder",  # plotly.js from the plotly package
]
MEDIA_ROOT = DATA_DIR / "media"
IMPORT_ERRORS_DIR = DATA_DIR / "import-errors"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie; False is Django's default
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp) on every response. Scripts: the app's own files only (plus whatever
# carries this request's nonce; no page has an inline script, an inline event handler or a javascript: URL,
# and htmx runs without eval, see web/base.html). Style elements: the app's stylesheets and the empty
# <style> elements with the nonce that plotly.js writes its rules into (web/_chart_scripts.html). Style
# *attributes* are allowed ('unsafe-inline' in style-src-attr only): plotly.js draws bold/italic text and
# colour bars with style="" on SVG elements, which no nonce or hash can cover; an attribute cannot load
# anything (img-src, font-src) nor select elements, so it cannot leak the page. img-src allows data: URLs:
# plotly's "download as PNG" and Swagger UI's icons are data: images. docs/security.md, "In the browser".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],  # browsers without the -elem/-attr directives (CSP level 2) read this one
        "style-src-elem": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Permissions-Policy (django-permissions-policy): no page of dealpilot uses a device or a payment, so
# no page, nor anything a page might embed, may ask for one.
PERMISSIONS_POLICY = {feature: [] for feature in (
    "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture", "encrypted-media",
    "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer", "microphone", "midi",
    "payment", "publickey-credentials-get", "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
)}

# Production (DEALPILOT_PRODUCTION=1: served over HTTPS behind a proxy that sets X-Forwarded-Proto):
# cookies only over HTTPS, HSTS, HTTP redirected to HTTPS. Off by default so that the embedded demo
# works on http://127.0.0.1. `dealpilot manage check --deploy` is clean with it (tests/test_security.py).
PRODUCTION = _env_bool("DEALPILOT_PRODUCTION", False)
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_bool("DEALPILOT_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DEALPILOT_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _env_bool("DEALPILOT_HSTS_PRELOAD", True)
    SESSION_COOKIE_AGE = int(os.environ.get("DEALPILOT_SESSION_SECONDS", str(12 * 3600)))
    if DEBUG:
        raise RuntimeError("DEALPILOT_DEBUG must be off when DEALPILOT_PRODUCTION is on")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DEALPILOT_LOG_LEVEL", "WARNING")},
}

# Digests and alerts by e-mail: smtp://host:port, smtp+tls://user:password@host:587, smtps://...:465,
# optionally ?from=sales-ops@example.com. Unset: no e-mail is made or sent (the bell still works).
DEALPILOT_EMAIL_URL = os.environ.get("DEALPILOT_EMAIL_URL", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEALPILOT_EMAIL_FROM", "dealpilot <dealpilot@localhost>")
# The address people open dealpilot at: the links in e-mails and chat messages start with it.
DEALPILOT_BASE_URL = os.environ.get("DEALPILOT_BASE_URL", "http://127.0.0.1:8000")
