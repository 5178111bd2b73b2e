"""Sign-in attempts limited per client address and per username (Flask-Limiter, kept in Redis)."""

import logging

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import password_hash_method

log = logging.getLogger(__name__)

# Nothing is limited unless a view asks: the limits here are for signing in only.
limiter = Limiter(key_func=get_remote_address, default_limits=[], swallow_errors=True)

_dummy_hashes = {}


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


def sso_callbacks_per_address():
    return current_app.config["SSO_CALLBACK_LIMIT_PER_ADDRESS"]


def username_key():
    """The username being tried, as the limit per username counts it."""
    return "user:" + (request.form.get("username") or "").strip().lower()[:64]


AUDIT_EVERY_S = 300


def audit_breach(limit):
    """Record refused sign-ins: once per limit and key each five minutes, so that a flood of
    attempts cannot flood the audit log."""
    username = (request.form.get("username") or "").strip()[:64]
    _audit(limit, "username", username or "(none)")


def audit_sso_breach(limit):
    """Record refused EVE SSO callbacks, as audit_breach does sign-ins."""
    _audit(limit, "eve-login", "(EVE login)")


def _audit(limit, target_type, target_id):
    from app.audit import record
    from app.extensions import db
    from app.jobs.connection import get_redis

    marker = f"{current_app.config['HUEY_NAME']}:limits:audited:{limit.key}"
    try:
        if not get_redis().set(marker, "1", nx=True, ex=AUDIT_EVERY_S):
            return
    except Exception:  # Redis trouble: audit this one
        log.warning("could not mark a refused sign-in as audited", exc_info=True)
    record(
        "login.limited",
        target_type=target_type,
        target_id=target_id,
        detail=f"from {get_remote_address()}: more than {limit.limit}",
    )
    try:
        db.session.commit()
    except Exception:  # the refusal stands even when the audit cannot be written
        db.session.rollback()
        log.exception("could not audit a refused sign-in")


def dummy_password_check(password):
    """Spend the time a password check costs, so an unknown username answers as slowly as a real one."""
    method = password_hash_method()
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not a password of anyone", method=method)
    check_password_hash(_dummy_hashes[method], password or "")
