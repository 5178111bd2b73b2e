"""Key forms: each action is a POST carrying a CSRF token."""

from app.forms import BaseForm


class ActionForm(BaseForm):
    """A button that posts an action (remove, make main); only the CSRF token is in it."""
