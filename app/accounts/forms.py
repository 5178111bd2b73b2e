"""Account forms."""

from wtforms import BooleanField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.forms import BaseForm


class LoginForm(BaseForm):
    """Username and password for local (admin) accounts."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in")
    next = HiddenField()
    rd = HiddenField()  # forward auth's return address on another host name
    submit = SubmitField("Sign in")


class LogoutForm(BaseForm):
    """An empty form: logging out is a POST carrying a CSRF token."""

    submit = SubmitField("Sign out")
