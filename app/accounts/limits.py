"""Sign-in attempts limited per client address and per username (Flask-Limiter, kept in Redis)."""

import logging

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.security import check_password_hash, generate_password_hash

log = logging.getLogger(__name__)

# Nothing is limited unless a view asks: the limits here are for signing in only.
limiter = Limiter(key_func=get_remote_address, default_limits=[], swallow_errors=True)

LIMITED_MESSAGE = "Too many sign-in attempts. Wait a few minutes, then try again."

_dummy_hash = None


def storage_uri(redis_url):
    """The limits library's spelling of a Redis URL (a Unix socket is ``redis+unix://``)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


def init_app(app):
    """Keep the counters in Bastion's Redis; when Redis is down, signing in is not refused."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config["REDIS_URL"]))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{app.config['HUEY_NAME']}:limits")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)


def per_address():
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def per_username():
    return current_app.config["LOGIN_LIMIT_PER_USERNAME"]


def username_key():
    """The username being tried, as the limit per username counts it."""
    return "user:" + (request.form.get("username") or "").strip().lower()[:64]


def audit_breach(limit):
    """Record a refused attempt once per breach (the limit's first refusal)."""
    from app.admin.models import record
    from app.extensions import db

    username = (request.form.get("username") or "").strip()[:64]
    record(
        "login.limited",
        target_type="username",
        target_id=username or "(none)",
        detail=f"from {get_remote_address()}: more than {limit.limit}",
    )
    try:
        db.session.commit()
    except Exception:  # the refusal stands even when the audit cannot be written
        db.session.rollback()
        log.exception("could not audit a refused sign-in")


def dummy_password_check(password):
    """Spend the time a password check costs, so an unknown username answers as slowly as a real one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("not a password of anyone")
    check_password_hash(_dummy_hash, password or "")
