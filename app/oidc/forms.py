"""The provider's one form: a member confirming a sign-out a site asked for."""

from flask_wtf import FlaskForm
from wtforms import HiddenField


class LogoutConfirmForm(FlaskForm):
    """Yes, sign me out (and then to this registered address of the site, when one was given)."""

    target = HiddenField()
