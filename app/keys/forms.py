"""Key forms: each action is a POST carrying a CSRF token."""

from flask import abort

from app.forms import BaseForm

EXPIRED = "The form has expired; reload the page and try again."


class ActionForm(BaseForm):
    """A button that posts an action (remove, make main); only the CSRF token is in it."""


def require_action_form(message=EXPIRED):
    """Stop the request with a 400 unless it carries a valid action form (its CSRF token)."""
    if not ActionForm().validate_on_submit():
        abort(400, description=message)
