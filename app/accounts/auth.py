"""Who is calling: the user loader, safe redirects, and the role checks every view uses."""

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_login import current_user

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


@login_manager.user_loader
def load_user(user_id):
    """Load the user behind a session, or nothing for a malformed id."""
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


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
