"""Configuration: every value comes from the environment.

With ``BASTION_ENV`` unset Bastion runs as production and refuses to start on development
secrets; ``make run``, the tests and the benchmarks say ``development`` (or ``testing``).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("BASTION_INSTANCE_DIR", BASE_DIR / "instance"))

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105  (refused in production)
ENVIRONMENTS = ("production", "development", "testing")


def _bool(name, default=False):
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name, default):
    """Read an integer environment variable, naming it when it is malformed."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, got {value!r}") from None


def _float(name, default):
    """Read a number from the environment, naming it when it is malformed."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise RuntimeError(f"{name} must be a number, got {value!r}") from None


def default_redis_url():
    """The embedded development Redis listens on a socket under instance/."""
    return f"unix://{INSTANCE_DIR / 'redis.sock'}"


class Config:
    """Settings for development and production, read from the environment."""

    ENV = os.environ.get("BASTION_ENV", "").strip() or "production"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    # Bastion's own address as members reach it (https://auth.example.org): callback URLs and the
    # links Bastion sends are built from it, never from a request's Host header. Required in
    # production; in development the request's address is used.
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "").strip().rstrip("/")
    # How many reverse proxies stand in front of Bastion and set X-Forwarded-For, -Proto and -Host
    # (Werkzeug's ProxyFix); 0 trusts none of those headers.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'bastion.db'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or default_redis_url()
    HUEY_NAME = os.environ.get("HUEY_NAME", "bastion")
    HUEY_IMMEDIATE = _bool("HUEY_IMMEDIATE", False)
    # A consumer whose last heartbeat is older than this is reported as down.
    HEARTBEAT_MAX_AGE = _int("HEARTBEAT_MAX_AGE", 150)
    # /metrics answers only to this bearer token; empty turns /metrics off.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    SQLITE_BUSY_TIMEOUT_MS = _int("SQLITE_BUSY_TIMEOUT_MS", 15000)

    SESSION_COOKIE_NAME = "bastion_session"
    # How local passwords are hashed (Werkzeug's method string): scrypt, slow on purpose.
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105  (a method, not a password)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", ENV == "production")
    # A parent domain (".example.org") lets forward auth see the session on the protected apps'
    # own host names; empty keeps the cookie to Bastion's host.
    SESSION_COOKIE_DOMAIN = os.environ.get("SESSION_COOKIE_DOMAIN", "").strip() or None
    REMEMBER_COOKIE_NAME = "bastion_remember"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DOMAIN = SESSION_COOKIE_DOMAIN
    # "Keep me signed in" lasts this many days at most (admins are never remembered).
    REMEMBER_DAYS = min(_int("REMEMBER_DAYS", 30), 30)
    # Where forward auth may send a visitor back after logging in: these host names and their
    # subdomains (comma separated); empty: the domain of SESSION_COOKIE_DOMAIN, else none.
    FORWARD_AUTH_DOMAINS = [
        d.strip().lstrip(".").lower()
        for d in os.environ.get("FORWARD_AUTH_DOMAINS", "").split(",")
        if d.strip()
    ]
    # Logins allowed per client address and per username (Flask-Limiter's notation), kept in Redis.
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "20 per 5 minutes")
    LOGIN_LIMIT_PER_USERNAME = os.environ.get("LOGIN_LIMIT_PER_USERNAME", "10 per 5 minutes")
    # EVE SSO callbacks per client address: each may cost a call to EVE's token endpoint, whose
    # limits the key checks share, so one address cannot spend them with made-up codes.
    SSO_CALLBACK_LIMIT_PER_ADDRESS = os.environ.get("SSO_CALLBACK_LIMIT_PER_ADDRESS", "30 per 5 minutes")
    # Webhooks to loopback, private and link-local addresses are refused unless this is set.
    WEBHOOK_ALLOW_PRIVATE = _bool("WEBHOOK_ALLOW_PRIVATE", False)
    # Alerts to admins (each channel optional): a Discord channel's webhook, and email over SMTP.
    ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL", "").strip()
    ALERT_EMAIL_TO = [a.strip() for a in os.environ.get("ALERT_EMAIL_TO", "").split(",") if a.strip()]
    ALERT_EMAIL_FROM = os.environ.get("ALERT_EMAIL_FROM", "").strip()
    SMTP_HOST = os.environ.get("SMTP_HOST", "").strip()
    SMTP_PORT = _int("SMTP_PORT", 587)
    SMTP_TLS = _bool("SMTP_TLS", True)  # STARTTLS before signing in
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    # A condition told is not told again within this many seconds (it may end and start meanwhile).
    ALERT_QUIET_S = _int("ALERT_QUIET_S", 1800)
    # An upstream backed off for longer than this is told; shorter backoffs are routine.
    ALERT_BACKOFF_S = _int("ALERT_BACKOFF_S", 300)
    # A corporation's in-game member list older than this is told as stale.
    ALERT_ROSTER_STALE_S = _int("ALERT_ROSTER_STALE_S", 6 * 3600)
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock
    PREFERRED_URL_SCHEME = "https" if ENV == "production" else "http"
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    DEMO = _bool("BASTION_DEMO", False)

    # EVE SSO and ESI (the sandbox in the demo and the tests: only these URLs differ).
    EVE_SSO_URL = os.environ.get("EVE_SSO_URL", "https://login.eveonline.com")
    EVE_ESI_URL = os.environ.get("EVE_ESI_URL", "https://esi.evetech.net")
    EVE_CLIENT_ID = os.environ.get("EVE_CLIENT_ID", "")
    EVE_CLIENT_SECRET = os.environ.get("EVE_CLIENT_SECRET", "")
    EVE_CALLBACK_URL = os.environ.get("EVE_CALLBACK_URL", "")
    EVE_SCOPES = os.environ.get("EVE_SCOPES", "esi-characters.read_corporation_roles.v1").split()
    EVE_CONTACT = os.environ.get("EVE_CONTACT", "admin@example.invalid")
    EVE_TIMEOUT = _float("EVE_TIMEOUT", 10.0)
    ESI_COMPATIBILITY_DATE = os.environ.get("ESI_COMPATIBILITY_DATE", "2020-01-01")
    # The engine: cadence, the governor, retries (see app/jobs and app/keys/validation.py).
    KEY_CHECK_INTERVAL = _int("KEY_CHECK_INTERVAL", 4 * 3600)  # seconds between checks of one key
    AFFILIATION_INTERVAL = _int("AFFILIATION_INTERVAL", 3600)  # seconds between affiliation checks
    # A corporation's in-game member list is read when ESI's copy expires (an hour); after a failed
    # reading, again after this many seconds. Older than ROSTER_STALE_S, the portal says it is stale.
    ROSTER_RETRY_S = _int("ROSTER_RETRY_S", 300)
    ROSTER_STALE_S = _int("ROSTER_STALE_S", 3 * 3600)
    # OpenID Connect provider: refresh tokens last this many days; the ID-token signing key turns
    # over every OIDC_KEY_ROTATE_DAYS, and a retired key stays in the JWKS OIDC_KEY_KEEP_S more.
    OIDC_REFRESH_DAYS = _int("OIDC_REFRESH_DAYS", 30)
    # However often a site refreshes, its tokens from one sign-in end this many days after it.
    OIDC_FAMILY_DAYS = _int("OIDC_FAMILY_DAYS", 90)
    OIDC_KEY_ROTATE_DAYS = _int("OIDC_KEY_ROTATE_DAYS", 30)
    OIDC_KEY_KEEP_S = _int("OIDC_KEY_KEEP_S", 7 * 86400)
    # A new key is in the JWKS this long before it signs, so sites' cached copies know it by then.
    OIDC_KEY_PUBLISH_S = _int("OIDC_KEY_PUBLISH_S", 86400)
    # Bastion holds no email addresses; sites that insist on one (Wiki.js, Discourse) get
    # user<id>@OIDC_EMAIL_DOMAIN, marked unverified.
    OIDC_EMAIL_DOMAIN = os.environ.get("OIDC_EMAIL_DOMAIN", "").strip()
    # The Mumble authenticator registers with each Mumble server every MUMBLE_REFRESH_S seconds,
    # listening for its calls on MUMBLE_CALLBACK_HOST (an address the Mumble server can reach).
    MUMBLE_REFRESH_S = _int("MUMBLE_REFRESH_S", 30)
    MUMBLE_CALLBACK_HOST = os.environ.get("MUMBLE_CALLBACK_HOST", "127.0.0.1")
    CHECK_JITTER = _float("CHECK_JITTER", 0.1)  # share of an interval added or taken at random
    EVE_DOWNTIME = os.environ.get("EVE_DOWNTIME", "11:00-11:15")  # UTC; empty: none

    # Discord: the OAuth2 application members link their accounts with, and the bot that manages roles.
    DISCORD_API_URL = os.environ.get("DISCORD_API_URL", "https://discord.com/api/v10")
    DISCORD_AUTHORIZE_URL = os.environ.get("DISCORD_AUTHORIZE_URL", "https://discord.com/oauth2/authorize")
    DISCORD_CLIENT_ID = os.environ.get("DISCORD_CLIENT_ID", "")
    DISCORD_CLIENT_SECRET = os.environ.get("DISCORD_CLIENT_SECRET", "")
    DISCORD_BOT_TOKEN = os.environ.get("DISCORD_BOT_TOKEN", "")
    DISCORD_TIMEOUT = _float("DISCORD_TIMEOUT", 10.0)
    GOVERNOR_LIMITS = os.environ.get("GOVERNOR_LIMITS", "")  # known limits, e.g. "sso=100"
    GOVERNOR_SAFETY = _float("GOVERNOR_SAFETY", 0.95)  # share of a known limit handed out as slots
    # The gate, right before a call: at most this share of a known limit in any second and the
    # slack (seconds a call may take from the gate to the upstream on a busy machine).
    GOVERNOR_GATE_SAFETY = _float("GOVERNOR_GATE_SAFETY", 0.99)
    GOVERNOR_GATE_SLACK = _float("GOVERNOR_GATE_SLACK", 0.04)
    SSO_INITIAL_RATE = _float("SSO_INITIAL_RATE", 30.0)  # calls/s before an unknown limit is found
    ESI_ERROR_THRESHOLD = _int("ESI_ERROR_THRESHOLD", 20)  # stop calling ESI at this many errors left
    LOCK_TTL = _int("LOCK_TTL", 60)
    SWEEP_HORIZON = _float("SWEEP_HORIZON", 1.5)  # seconds of work the sweep keeps queued
    SWEEP_MIN_BATCH = _int("SWEEP_MIN_BATCH", 50)
    SWEEP_MAX_QUEUE = _int("SWEEP_MAX_QUEUE", 5000)  # high-water mark of queued and scheduled work
    VALIDATE_MAX_ATTEMPTS = _int("VALIDATE_MAX_ATTEMPTS", 6)
    RETRY_BASE = _float("RETRY_BASE", 2.0)  # power-law retry: base * attempt**2 seconds, capped
    RETRY_CAP = _float("RETRY_CAP", 300.0)
    # A database that is briefly unreachable (a restart, a failover) is waited out: the task runs
    # again after DB_RETRY_BASE * n**2 seconds (at most DB_RETRY_CAP), up to DB_RETRY_ATTEMPTS times.
    DB_RETRY_ATTEMPTS = _int("DB_RETRY_ATTEMPTS", 8)
    # How long a stopping consumer lets running tasks finish (an SSO refresh, the ESI roles call and
    # the database writes each have their own timeout); a deployment allows a little more before
    # SIGKILL.
    CONSUMER_SHUTDOWN_TIMEOUT = _float("CONSUMER_SHUTDOWN_TIMEOUT", 30.0)
    DB_RETRY_BASE = _float("DB_RETRY_BASE", 0.5)
    DB_RETRY_CAP = _float("DB_RETRY_CAP", 30.0)
    ERROR_GRACE = _int("ERROR_GRACE", 24 * 3600)  # transient failures this long flag a key
    REAUTH_GRACE = _int("REAUTH_GRACE", 3 * 24 * 3600)  # access kept while re-authorisation is asked
    AFFILIATION_BATCH = _int("AFFILIATION_BATCH", 1000)
    AFFILIATION_MAX_WAIT = _float("AFFILIATION_MAX_WAIT", 30.0)  # a partial batch goes after this
    # A round's hold on the ids it works on, renewed with each ESI call; a dead round's ids come back
    # to wait when it runs out.
    AFFILIATION_LEASE = _float("AFFILIATION_LEASE", 30.0)
    # A removal of access that a key or an alt causes (an invalid key, a hostile alt) waits this long
    # first, so that the member can fix it; leaving for a hostile or untracked corporation does not.
    ACCESS_GRACE = _int("ACCESS_GRACE", 24 * 3600)
    # The first direct message about it waits this long (the in-app notice shows at once), so that
    # a removal taken back meanwhile (a misbehaving SSO the incident guard caught) sends nothing.
    NOTICE_DM_DELAY = _float("NOTICE_DM_DELAY", 300.0)
    # The incident guard: within GUARD_WINDOW seconds, more than max(MIN, SHARE) keys turning invalid
    # (of the checks), members losing a grant (of members and blues) or characters leaving tracked
    # corporations (of a round) is implausible: those are held and re-checked after GUARD_RECHECK.
    GUARD_ENABLED = os.environ.get("GUARD_ENABLED", "true").lower() in ("1", "true", "yes")
    GUARD_WINDOW = _float("GUARD_WINDOW", 600.0)
    GUARD_RECHECK = _float("GUARD_RECHECK", 180.0)
    GUARD_VERDICT_MIN = _int("GUARD_VERDICT_MIN", 20)
    GUARD_VERDICT_SHARE = _float("GUARD_VERDICT_SHARE", 0.05)
    GUARD_REMOVAL_MIN = _int("GUARD_REMOVAL_MIN", 10)
    GUARD_REMOVAL_SHARE = _float("GUARD_REMOVAL_SHARE", 0.05)
    GUARD_AFFILIATION_MIN = _int("GUARD_AFFILIATION_MIN", 10)
    GUARD_AFFILIATION_SHARE = _float("GUARD_AFFILIATION_SHARE", 0.05)
    # A grant's sync held back by its service's backoff waits at most this long, then fails.
    SYNC_MAX_WAIT = _float("SYNC_MAX_WAIT", 1800.0)
    HISTORY_DAYS = _int("HISTORY_DAYS", 14)
    SCHEDULER_TICK = _float("SCHEDULER_TICK", 0.02)  # how often due scheduled tasks are released

    # Fernet keys for refresh tokens and service secrets, newest first; comma separated.
    TOKEN_ENCRYPTION_KEYS = [k for k in os.environ.get("TOKEN_ENCRYPTION_KEYS", "").split(",") if k.strip()]


class TestConfig(Config):
    """Settings for the test suite; the database and Redis URLs come from the test fixtures."""

    ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = True
    EVE_CONTACT = "tests@example.invalid"
    EVE_TIMEOUT = 5.0
    EVE_DOWNTIME = ""  # tests must not depend on the hour they run at
    WEBHOOK_ALLOW_PRIVATE = True  # the receivers in the tests listen on 127.0.0.1
    # Every test signs in from 127.0.0.1; the tests of the limits lower them.
    LOGIN_LIMIT_PER_ADDRESS = "100000 per minute"
    LOGIN_LIMIT_PER_USERNAME = "100000 per minute"
    SSO_CALLBACK_LIMIT_PER_ADDRESS = "100000 per minute"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    # Tests sign in hundreds of times: one PBKDF2 round instead of scrypt's ~100 ms. Testing only.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"  # noqa: S105


def check_production_config(config):
    """Refuse to run in production on development settings; return a list of what to set."""
    problems = []
    env = config.get("ENV")
    if env not in ENVIRONMENTS:
        problems.append(f"BASTION_ENV must be one of {', '.join(ENVIRONMENTS)} (got {env!r})")
        return problems
    if env != "production":
        return problems
    if config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY) or len(config["SECRET_KEY"]) < 32:
        problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
    if not config.get("TOKEN_ENCRYPTION_KEYS"):
        problems.append("TOKEN_ENCRYPTION_KEYS must hold at least one Fernet key")
    if config.get("DEMO"):
        problems.append("BASTION_DEMO must be off (the demo seeds known passwords)")
    if not str(config.get("PUBLIC_URL") or "").startswith("https://"):
        problems.append("PUBLIC_URL must be Bastion's https address, such as https://auth.example.org")
    for name in ("EVE_SSO_URL", "EVE_ESI_URL", "DISCORD_API_URL", "DISCORD_AUTHORIZE_URL"):
        if not str(config.get(name) or "").startswith("https://"):
            problems.append(f"{name} must be an https URL (got {config.get(name)!r})")
    return problems
