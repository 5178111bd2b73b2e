"""Error pages for browsers and JSON errors for JSON callers."""

import logging

from flask import jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.accounts.auth import wants_json
from app.extensions import db

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many attempts",
    500: "Something went wrong",
}
MESSAGES = {
    400: "The request could not be understood.",
    401: "You need to sign in to see this.",
    403: "Your account is not allowed to see this page or do this action.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    429: "Too many sign-in attempts. Wait a few minutes, then try again.",
    500: "An unexpected error happened. It has been logged; please try again.",
}


def _respond(code, message=None):
    """Render the error as JSON or as a page."""
    message = message or MESSAGES.get(code, "")
    if wants_json():
        return jsonify({"error": TITLES.get(code, "Error"), "message": message, "status": code}), code
    template = f"errors/{code}.html" if code in (403, 404, 500) else "errors/generic.html"
    return render_template(template, code=code, title=TITLES.get(code, "Error"), message=message), code


def register(app):
    """Install the error handlers on the app."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _respond(
            400, "The form was out of date or incomplete. Go back, reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code >= 500:
            db.session.rollback()
        custom = exc.code != 429 and _custom(exc)  # a rate limit's own text is for operators
        message = exc.description if exc.code not in MESSAGES or custom else None
        return _respond(exc.code, message)

    @app.errorhandler(Exception)
    def unexpected_error(exc):
        db.session.rollback()
        log.exception("unhandled error")
        return _respond(500)


def _custom(exc):
    """True when the view passed its own description to abort()."""
    return exc.description != type(exc).description
