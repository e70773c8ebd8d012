"""Settings for task-platform, read from the environment (see README's configuration table).

Every tenant owns a PostgreSQL schema (django-tenants): SHARED_APPS live in `public`, TENANT_APPS in each
tenant's schema.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

SOURCE_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = SOURCE_ROOT.parent
DATA_DIR = Path(env_str("TASK_PLATFORM_DATA_DIR", str(REPO_ROOT / ".data")))

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: a production start (DEBUG off) needs a secret; set SECRET_KEY or DEBUG=1."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", ".localhost"] if DEBUG else [])

# --- Applications -------------------------------------------------------------------------------------
SHARED_APPS = [
    # Command lookup favours earlier apps: tenancy's `create_tenant` must win over django-tenants' own,
    # and django-tenants' `migrate` over Django's.
    "tenancy",
    "django_tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Refresh tokens are single-use (ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION): the used ones are
    # recorded in the public schema.
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "sampledata",
    "dashboards",
]
TENANT_APPS = [
    "tracker",
    "analytics",
    "background",
    "outbox",
    "notifications",
    "webhooks",
    "sla",
    "analytics_refresh",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenancy.Tenant"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.middleware.ProblemFallbackMiddleware",
    "api.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenancy.middleware.TenantSelectionMiddleware",
    "api.rate_limit.RateLimitMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Data stores --------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: start through `make run`/`make test` (which start a local PostgreSQL) "
        "or set DATABASE_URL=postgres://user@host:port/db."
    )
# DB_POOL_SIZE > 0: each process keeps a psycopg connection pool of up to that many connections (Django's
# "pool" option), shared by its threads, instead of one persistent connection per thread; Django requires
# CONN_MAX_AGE 0 with it. Both are safe with schemas: docs/security.md, "Connection pooling".
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 0)
_database = dj_database_url.parse(
    DATABASE_URL, conn_max_age=0 if DB_POOL_SIZE else env_int("DB_CONN_MAX_AGE", 60)
)
if DB_POOL_SIZE:
    _database["OPTIONS"] = {**_database.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": DB_POOL_SIZE}}
DATABASES = {
    "default": {
        **_database,
        # django-tenants sets search_path per connection; reusing connections is safe because the tenant
        # middleware resets the schema at the start of every request. Its backend, sending the SET once
        # per transaction rather than per statement inside one (tenancy/postgresql_backend/base.py).
        "ENGINE": "tenancy.postgresql_backend",
        "CONN_HEALTH_CHECKS": True,
    }
}

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 0.05)

_redis_cache_options = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
CACHES = {
    # Tenant data: every key is prefixed with the active schema (django-tenants' key function), so one
    # tenant can never read another's entry.
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": "tp",
        "OPTIONS": _redis_cache_options,
    },
    # Cross-tenant data (the tenant row behind an X-Tenant-ID, memberships): keys are not schema-prefixed.
    "public": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "tp-public",
        "OPTIONS": _redis_cache_options,
    },
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# Background jobs (docs/jobs.md). With Redis as broker, a message a worker took but never acknowledged
# (killed mid-job) goes back to the queue after the visibility timeout; it must exceed the longest retry
# delay, or a waiting retry would be handed to a second worker as well.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
}
JOBS_MAX_RETRIES = env_int("JOBS_MAX_RETRIES", 8)
# An SLA line crossed longer ago than this is recorded without notifying anyone (stale news).
SLA_ALERT_STALE_SECONDS = env_int("SLA_ALERT_STALE_SECONDS", 86_400)
JOBS_RETRY_BACKOFF_SECONDS = env_float("JOBS_RETRY_BACKOFF_SECONDS", 2.0)
JOBS_RETRY_BACKOFF_MAX_SECONDS = env_float("JOBS_RETRY_BACKOFF_MAX_SECONDS", 600.0)
OUTBOX_RELAY_SWEEP_SECONDS = env_float("OUTBOX_RELAY_SWEEP_SECONDS", 5.0)
OUTBOX_RELAY_BATCH_SIZE = env_int("OUTBOX_RELAY_BATCH_SIZE", 500)
# Webhooks may call loopback/private addresses only where that cannot reach someone else's network.
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=DEBUG)
WEBHOOKS_DISABLE_AFTER_FAILURES = env_int("WEBHOOKS_DISABLE_AFTER_FAILURES", 5)
WEBHOOKS_TIMEOUT_SECONDS = env_float("WEBHOOKS_TIMEOUT_SECONDS", 10.0)
# Notification emails: printed to the console in development, SMTP (EMAIL_HOST...) in production.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND", f"django.core.mail.backends.{'console' if DEBUG else 'smtp'}.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "task-platform <noreply@task-platform.localhost>")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "emails"))  # for the file-based backend

RATE_LIMIT_REQUESTS = env_int("RATE_LIMIT_REQUESTS", 600)
RATE_LIMIT_WINDOW = env_int("RATE_LIMIT_WINDOW", 60)
# Per user inside a tenant (and per source address for requests without a valid token), so one runaway
# client cannot spend the whole tenant's budget: by default half of it.
RATE_LIMIT_USER_REQUESTS = env_int("RATE_LIMIT_USER_REQUESTS", 300)
RATE_LIMIT_USER_WINDOW = env_int("RATE_LIMIT_USER_WINDOW", 60)

# --- Auth ---------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.MemoizedUserJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.openapi.PlatformAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.LenientContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetPagination",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Each refresh returns a new refresh token and blacklists the one used: a stolen refresh token works
    # at most once, and its reuse after the owner refreshed is refused (401).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "task-platform API",
    "DESCRIPTION": (
        "Multi-tenant projects and tasks. Send `Authorization: Bearer <access JWT>` and, on tenant-scoped "
        "operations, `X-Tenant-ID: <tenant uuid>`. Errors are RFC 9457 problem+json with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name `status`: name both, so the task's keeps its name `StatusEnum`.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "tracker.models.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
}

# --- Web ----------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Only production (DEBUG off) collects static files; in DEBUG WhiteNoise reads them from the apps.
STATIC_ROOT = None if DEBUG else env_str("STATIC_ROOT", str(DATA_DIR / "static"))
# WhiteNoise serves Swagger UI, Redoc, Bootstrap and plotly.js from the project (no CDN); in DEBUG it reads
# straight from the apps, in production from `collectstatic` output.
WHITENOISE_USE_FINDERS = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto, and send HSTS (only ever over HTTPS).
if env_bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Pages load scripts and styles only from this origin (Bootstrap and plotly.js are served by us) and
# never inline script. plotly.js sets inline styles on its SVG, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "api.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's default config gives `django` a bare console handler of its own: every django.request
    # line would print twice, once without the request id. Its records reach the root handler instead.
    "loggers": {"django": {"handlers": [], "level": env_str("LOG_LEVEL", "INFO"), "propagate": True}},
}
