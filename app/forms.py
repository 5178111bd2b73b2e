"""The base of every form, and form helpers shared by every area."""

import re

from flask import abort, request
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

# Control characters other than tab and newlines: no person types them, and PostgreSQL refuses
# NUL in text outright.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def drop_control_characters(value):
    """A field filter: text without control characters (anything else as it is)."""
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


class BaseForm(FlaskForm):
    """Every Bastion form: CSRF from Flask-WTF, and control characters dropped from every field."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            options["filters"] = [drop_control_characters, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, **options)


EXPIRED = "The form has expired; reload the page and try again."


class ActionForm(BaseForm):
    """A button that posts an action (remove, make main, retry); only the CSRF token is in it."""


def require_action_form(message=EXPIRED):
    """Stop the request with a 400 unless it carries a valid action form (its CSRF token)."""
    if not ActionForm().validate_on_submit():
        abort(400, description=message)


def choices(pairs):
    """(value, label) pairs as the choices of a SelectField."""
    return [SelectChoice(value, label) for value, label in pairs]


MAX_PAGE = 100_000


def page_number():
    """The ?page= argument as a page number from 1 to MAX_PAGE (anything else reads as 1)."""
    value = request.args.get("page", 1, type=int) or 1
    return min(max(1, value), MAX_PAGE)
