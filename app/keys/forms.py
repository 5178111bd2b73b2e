"""Key forms: each action is a POST carrying a CSRF token."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that posts an action (remove, make main); only the CSRF token is in it."""
