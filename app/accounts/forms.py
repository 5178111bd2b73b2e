"""Account forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username and password for local (admin) accounts."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in")
    next = HiddenField()
    submit = SubmitField("Sign in")


class LogoutForm(FlaskForm):
    """An empty form: logging out is a POST carrying a CSRF token."""

    submit = SubmitField("Sign out")
