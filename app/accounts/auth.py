"""Who is calling: the user loader, safe redirects, and the role checks every view uses."""

import time
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.accounts.models import User
from app.extensions import db, login_manager


def wants_json():
    """True when the caller asked for JSON rather than a page."""
    if request.is_json:
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def is_safe_next(target):
    """True for a local path such as ``/keys?page=2``; false for anything that leaves the site."""
    if not target or not isinstance(target, str):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")


def safe_next(target, default="main.index"):
    """The target when it is a safe local path, else the default endpoint's URL."""
    return target if is_safe_next(target) else url_for(default)


def public_url(endpoint, **values):
    """An absolute URL of Bastion's for others to call (a callback, a link in a message).

    Built from PUBLIC_URL when it is set (always in production), never from the Host header alone.
    """
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def return_domains(config=None):
    """The host names (and their subdomains) forward auth may send a visitor back to."""
    config = current_app.config if config is None else config
    domains = list(config.get("FORWARD_AUTH_DOMAINS") or [])
    if not domains and config.get("SESSION_COOKIE_DOMAIN"):
        domains = [config["SESSION_COOKIE_DOMAIN"].lstrip(".").lower()]
    return domains


def is_allowed_return(target):
    """True for an absolute address on an allowed domain (forward auth's ``rd``), nothing else."""
    if not target or not isinstance(target, str) or len(target) > 2048:
        return False
    if "\\" in target or any(ord(ch) < 33 or ord(ch) == 127 for ch in target):
        return False
    try:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (a malformed port raises)
    except ValueError:
        return False
    schemes = ("https",) if current_app.config["ENV"] == "production" else ("https", "http")
    if parts.scheme not in schemes or not host or parts.username is not None or parts.password is not None:
        return False
    return any(host == domain or host.endswith("." + domain) for domain in return_domains())


def safe_return(next_path, rd=None, default="main.index"):
    """Where to go after signing in: a checked ``rd`` on an allowed domain, else a safe local path."""
    if rd and is_allowed_return(rd):
        return rd
    return safe_next(next_path, default)


def greet(target, text):
    """Say welcome after a sign-in, unless it lands on the home page, which greets by itself."""
    if target != url_for("main.index"):
        flash(text, "success")


def start_session(user, remember=False):
    """Sign the user in on a fresh session (nothing of the session before it carries over)."""
    session.clear()
    days = current_app.config.get("REMEMBER_DAYS", 30)
    login_user(user, remember=remember and days > 0, duration=timedelta(days=max(days, 1)))
    session["signed_in_at"] = int(time.time())  # auth_time for OpenID Connect sites


def end_browser_session():
    """Sign this browser out: its session and remember-me cookie end (other browsers stay)."""
    logout_user()
    session.clear()


@login_manager.user_loader
def load_user(token):
    """The user whose current session token the session or remember-me cookie holds, or nobody."""
    if not isinstance(token, str) or not 20 <= len(token) <= 64:
        return None
    return db.session.scalar(db.select(User).filter_by(session_token=token))


@login_manager.unauthorized_handler
def unauthorized():
    """Anonymous callers: JSON gets 401, browsers go to the login page and come back after."""
    if wants_json():
        abort(401)
    next_path = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login", next=next_path if is_safe_next(next_path) else None))


def role_required(*roles):
    """Allow only users holding one of the roles (admins pass every check); use under login_required."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator


admin_required = role_required("admin")
director_required = role_required("director")
