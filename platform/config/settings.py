"""Mashang settings. Everything that differs between machines comes from the environment."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import dj_database_url

from config.env import ROOT, ensure_database, env_bool, env_list

BASE_DIR = ROOT
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-mashang-secret-change-me")
DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("MASHANG_TESTING", "pytest" in sys.modules)
# Each test run gets its own database, broker folder and queue, so runs side by side never meet; the
# run id is inherited by the test's Celery worker through the environment.
TEST_RUN = os.environ.setdefault("MASHANG_TEST_RUN", str(os.getpid())) if TESTING else ""

# Public platform host; districts are <slug>.<DISTRICT_DOMAIN_SUFFIX> unless given their own domain.
PLATFORM_DOMAIN = os.environ.get("PLATFORM_DOMAIN", "localhost")
DISTRICT_DOMAIN_SUFFIX = os.environ.get("DISTRICT_DOMAIN_SUFFIX", "localhost")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", f"{PLATFORM_DOMAIN},.{DISTRICT_DOMAIN_SUFFIX},127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# --- database -------------------------------------------------------------------------------
# Under ASGI every request runs its sync code in a thread of its own, so a persistent connection
# (CONN_MAX_AGE) would be opened per request and never reused: config/asgi.py turns on psycopg's
# connection pool instead (DB_POOL=1; per process, DB_POOL_MIN..DB_POOL_MAX connections). WSGI,
# Celery and the tests keep one persistent connection per thread.
DB_POOL = env_bool("DB_POOL", False)
_db = dj_database_url.parse(ensure_database(),
                            conn_max_age=0 if DB_POOL else int(os.environ.get("DB_CONN_MAX_AGE", "60")),
                            conn_health_checks=not DB_POOL)
if DB_POOL:
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DB_POOL_MIN", "2")), "max_size": int(os.environ.get("DB_POOL_MAX", "10")),
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10"))}
if _db.get("OPTIONS", {}).get("host") and not _db.get("HOST"):
    _db["HOST"] = _db["OPTIONS"].pop("host")  # unix-socket URL of the embedded server
_db["ENGINE"] = "kernel.db"  # django-tenants' backend, cheaper health check (kernel/db/base.py)
_db["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", f"test_{_db['NAME']}_{TEST_RUN or 'x'}")}
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- tenancy --------------------------------------------------------------------------------
TENANT_MODEL = "tenants.District"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
TENANT_LIMIT_SET_CALLS = True
# Spare, fully migrated schemas kept ready so a new district is live in milliseconds.
DISTRICT_POOL_SIZE = int(os.environ.get("DISTRICT_POOL_SIZE", "2"))

# Both levels hold auth, sessions and tokens: a district's users, sessions and tokens live in its
# own schema, platform staff in public. A session or token of one never exists in the other.
_BOTH = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
    "rest_framework.authtoken",
    "accounts",
    "kernel",
]
SHARED_APPS = [
    "django_tenants",
    "tenants",
    *_BOTH,
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "health_check",
    "billing",
    "onboarding",
    "console",
]
MODULE_APPS = [
    "modules.registry",
    "modules.codes",
    "modules.cases",
    "modules.points",
    "modules.ratings",
    "modules.participation",
    "modules.notices",
]
TENANT_APPS = [*_BOTH, "portal", "notifications", *MODULE_APPS]
INSTALLED_APPS = list(SHARED_APPS) + [a for a in TENANT_APPS if a not in SHARED_APPS]

MIDDLEWARE = [
    "kernel.middleware.HealthMiddleware",
    "tenants.middleware.DistrictMiddleware",
    "kernel.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "kernel.middleware.PortalLocaleMiddleware",
    "kernel.middleware.BadInputMiddleware",  # form bodies: 413 too large, 400 not UTF-8 (API and pages)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "modules.middleware.ModuleGateMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ROOT / "platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context.district",
                "notifications.context.inbox",
                "console.context.console_nav",
            ]
        },
    }
]
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
if TESTING:  # tests make hundreds of accounts; PBKDF2's 1,000,000 rounds took a third of a second each
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- i18n: zh-Hans first, English second ------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [ROOT / "platform" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# The CJK TrueType font PDFs embed (kernel/fonts.py): empty finds Debian's fonts-wqy-microhei and kin;
# else a .ttf/.ttc file, "path#N" for the N-th face of a collection.
CJK_FONT = os.environ.get("CJK_FONT", "")

STATIC_URL = "/static/"
STATIC_ROOT = ROOT / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve app static files (admin, DRF, Swagger UI) without collectstatic
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", ROOT / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    # Uploaded files land under the tenant's own prefix (media/<schema>/...).
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"

# --- cache, keyed per tenant --------------------------------------------------------------------
# Keys are "<prefix>:<version>:<schema>:<key>". The prefix names the database, so two installations
# (or a test run and the dev server) sharing one Redis never read each other's d_<slug> entries.
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", _db["TEST"]["NAME"] if TESTING else _db["NAME"])
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # The cache fails open (kernel.redis_cache): with Redis down, reads miss and writes do nothing.
    # Short timeouts, so a Redis that hangs holds a request for at most about these many seconds.
    CACHES = {
        "default": {
            "BACKEND": "kernel.redis_cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": float(os.environ.get("REDIS_CONNECT_TIMEOUT", "0.5")),
                        "socket_timeout": float(os.environ.get("REDIS_SOCKET_TIMEOUT", "1.0"))},
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }

# --- Celery (tenant-aware) ----------------------------------------------------------------------
RUN_DIR = Path(os.environ.get("MASHANG_RUN_DIR", ROOT / ".run" / (f"test-{TEST_RUN}" if TESTING else "dev")))
RUN_DIR.mkdir(parents=True, exist_ok=True)  # worker logs, beat schedule, and the filesystem broker
if REDIS_URL:
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
    # A broker that hangs (no answer, connection open) must not hold a publish for ever: kombu's
    # default is no socket timeout at all. Not a retry setting; BRPOP answers within 1 s anyway.
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        socket_connect_timeout=float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2")),
        socket_timeout=float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "10")))
else:
    # A broker that needs no server: kombu's filesystem transport under .run/broker.
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
    _broker_dir = RUN_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = False
# Tests use their own queue so a developer's running worker never takes a test's task.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or (f"mashang-test-{TEST_RUN}" if TESTING else "mashang")
CELERY_TASK_ACKS_LATE = True  # a killed worker's task is redelivered, never lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep our JSON logs (tenant, request id) in workers too
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker outage must never end a worker: retry forever, backing off 2, 4, … up to 30 s between
# attempts (kombu's ensure_connection), and go on consuming once the broker is back. A number here
# (environment) caps the retries again; unset, empty or "none" means forever.
_max_retries = os.environ.get("CELERY_BROKER_CONNECTION_MAX_RETRIES", "").strip().lower()
CELERY_BROKER_CONNECTION_MAX_RETRIES = int(_max_retries) if _max_retries not in ("", "none") else None
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
CELERY_TIMEZONE = TIME_ZONE
# Only the beat that holds a PostgreSQL advisory lock sends (config/beat.py): a second beat waits.
CELERY_BEAT_SCHEDULER = "config.beat:SingleBeatScheduler"
CELERY_BEAT_SCHEDULE = {
    "relay-outbox-all-districts": {"task": "kernel.tasks.relay_all_districts", "schedule": 30.0},
    # SMS / WeChat messages held by quiet hours or waiting for a retry
    "deliver-messages-all-districts": {"task": "notifications.tasks.deliver_all_districts", "schedule": 60.0},
    "module-periodic-fanout": {"task": "kernel.tasks.fan_out_periodic", "schedule": 60.0},
    "refill-district-pool": {"task": "tenants.tasks.refill_pool", "schedule": 300.0},
    "requeue-release-retries": {"task": "tenants.releases.tasks.requeue_releases", "schedule": 60.0},
    "district-lifecycle": {"task": "tenants.lifecycle.tasks.sweep", "schedule": 600.0},  # docs/lifecycle.md
    "resume-provisioning-runs": {"task": "onboarding.tasks.resume_provisioning", "schedule": 60.0},
}
# The end of a district's life (docs/lifecycle.md): exports live here, never under MEDIA_ROOT; an archived
# district may be deleted this many days after archiving (and only with a finished export).
DISTRICT_EXPORT_ROOT = Path(os.environ.get("DISTRICT_EXPORT_ROOT", RUN_DIR / "exports" if TESTING else ROOT / "private" / "exports"))
DISTRICT_RETENTION_DAYS = int(os.environ.get("DISTRICT_RETENTION_DAYS", "180"))

# --- REST API -------------------------------------------------------------------------------------
# Fields of a request body (JSON, or the non-file fields of a form): more is refused with 413 in the one
# error shape (kernel.api.exception_handler, kernel.middleware.BadInputMiddleware). Files have their own limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))
DATA_UPLOAD_MAX_NUMBER_FIELDS = int(os.environ.get("DATA_UPLOAD_MAX_NUMBER_FIELDS", "1000"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated call gets 401 with "WWW-Authenticate: Bearer".
        "kernel.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON nested past kernel.api.MAX_JSON_DEPTH is 400 (not a RecursionError); forms are checked by
    # kernel.middleware.BadInputMiddleware before any parser runs.
    "DEFAULT_PARSER_CLASSES": [
        "kernel.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "kernel.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "kernel.filters.FilterBackend",
        "kernel.filters.StrictOrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["kernel.api.AnonThrottle", "kernel.api.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON", "120/min"),
        "user": os.environ.get("THROTTLE_USER", "2000/min"),
        "otp": os.environ.get("THROTTLE_OTP", "10/hour"),
        "token": os.environ.get("THROTTLE_TOKEN", "30/hour"),
        "integration": os.environ.get("THROTTLE_INTEGRATION", "600/min"),
        "uploads": os.environ.get("THROTTLE_UPLOADS", "60/min"),
    },
    "EXCEPTION_HANDLER": "kernel.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "kernel.schema.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mashang 码上 API",
    "DESCRIPTION": "One API for every district. The district is chosen by the host name.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["modules.schema.drop_disabled_modules"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "kernel.schema.add_error_component"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Fields named "kind" in several modules: name their enums apart.
    "ENUM_NAME_OVERRIDES": {"ProviderKindEnum": "modules.points.models.ProviderKind",
                            "BenefitLimitPeriodEnum": "modules.points.models.LimitPeriod",
                            "ExtraChannelEnum": "notifications.api.CHANNEL_CHOICES",
                            "ApplicationStateEnum": "onboarding.models.Application.State",
                            "ProvisioningStepStateEnum": "onboarding.models.ProvisioningStep.State",
                            "DistrictStatusEnum": "tenants.models.District.Status"},
}

# --- personal data --------------------------------------------------------------------------------
# Keys for encrypting ID/phone numbers at rest and for their blind index. Set both in production.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
BLIND_INDEX_KEY = os.environ.get("BLIND_INDEX_KEY", "")
SMS_SENDER = os.environ.get("SMS_SENDER", "kernel.sms.ConsoleSender")
# WeChat subscription messages (notifications.channels): the transport (the default logs, no network),
# the template id of each notification kind in the mini-program (JSON; a kind not named sends its own
# key as the id, which only the console transport accepts) and the mini-program state.
WECHAT_TRANSPORT = os.environ.get("WECHAT_TRANSPORT", "notifications.channels.ConsoleWeChatTransport")
WECHAT_TEMPLATE_IDS = json.loads(os.environ.get("WECHAT_TEMPLATE_IDS", "") or "{}")
WECHAT_MINIPROGRAM_STATE = os.environ.get("WECHAT_MINIPROGRAM_STATE", "formal")
OTP_TTL_SECONDS = int(os.environ.get("OTP_TTL_SECONDS", "300"))
OTP_MAX_ATTEMPTS = 5
# API tokens (apps; staff sign in with a password, residents with a one-time code) expire after this
# many seconds; a request with an expired token gets 401. Staff accounts lock after repeated failures.
TOKEN_TTL = int(os.environ.get("TOKEN_TTL", str(30 * 24 * 3600)))
SIGNIN_MAX_FAILURES = int(os.environ.get("SIGNIN_MAX_FAILURES", "5"))
SIGNIN_LOCK_SECONDS = int(os.environ.get("SIGNIN_LOCK_SECONDS", str(15 * 60)))

# --- outbound calls (kernel/netguard.py) ------------------------------------------------------------
# Webhooks never go to loopback, private, link-local or metadata addresses; an on-prem receiver on a
# private network is allowed here: host names, ".domain" (with sub-domains), addresses or networks.
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", "")

# --- billing: Stripe (billing/gateway.py is the only caller) ----------------------------------------
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_test_mashang_local")
# Empty: Stripe itself. The demo and the tests point it at a localstripe server (http://127.0.0.1:8420).
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
# The API version every request pins and every webhook event must carry (else 400).
STRIPE_API_VERSION = os.environ.get("STRIPE_API_VERSION", "2026-10-28.endive")
STRIPE_ACCEPTED_API_VERSIONS = env_list("STRIPE_ACCEPTED_API_VERSIONS", STRIPE_API_VERSION)
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_mashang_local")
STRIPE_WEBHOOK_TOLERANCE = int(os.environ.get("STRIPE_WEBHOOK_TOLERANCE", "300"))  # seconds
STRIPE_WEBHOOK_RATE = os.environ.get("STRIPE_WEBHOOK_RATE", "600/min")  # per sending address
STRIPE_MAX_NETWORK_RETRIES = int(os.environ.get("STRIPE_MAX_NETWORK_RETRIES", "2"))
# What the Stripe server serves (localstripe: neither): see billing/gateway.py.
STRIPE_SUPPORTS_SEND_INVOICE = env_bool("STRIPE_SUPPORTS_SEND_INVOICE", True)
STRIPE_SUPPORTS_METER_EVENTS = env_bool("STRIPE_SUPPORTS_METER_EVENTS", True)
STRIPE_FALLBACK_TRIAL_DAYS = int(os.environ.get("STRIPE_FALLBACK_TRIAL_DAYS", "30"))
STRIPE_USAGE_METER_EVENT = os.environ.get("STRIPE_USAGE_METER_EVENT", "mashang_residents_bound")
BILLING_DEFAULT_PLAN = os.environ.get("BILLING_DEFAULT_PLAN", "standard")
CELERY_BEAT_SCHEDULE.update({
    "billing-ladder": {"task": "billing.tasks.run_ladder", "schedule": 3600.0},
    "billing-reconcile": {"task": "billing.tasks.reconcile", "schedule": 24 * 3600.0},
    "billing-usage": {"task": "billing.tasks.record_usage", "schedule": 24 * 3600.0},
    "billing-resume-events": {"task": "billing.tasks.resume_events", "schedule": 60.0},
})

# --- logging: structured, with the tenant on every line -------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "kernel.logging.ContextFilter"}},
    "formatters": {"json": {"()": "kernel.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "json"}
    },
    # Any case ("warning", as gunicorn writes it): logging only knows upper-case level names.
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"},
                "stripe": {"level": "WARNING"}},  # one INFO line per Stripe request is noise
}

# --- Sentry ---------------------------------------------------------------------------------------
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from kernel.observability import init_sentry

    init_sentry(SENTRY_DSN)

# Serve uploaded media from Django (development and small installs); nginx serves it in production.
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)

# How long a web process may keep a host -> district lookup (seconds; 0 turns the cache off).
TENANT_CACHE_SECONDS = float(os.environ.get("TENANT_CACHE_SECONDS", "5"))
# kernel.cache: how long a web process keeps a district's reference data (module configuration, routing
# tables, kept lists) in its memory before asking Redis again; a writer's own process forgets at once.
LOCAL_CACHE_SECONDS = float(os.environ.get("LOCAL_CACHE_SECONDS", "5"))
