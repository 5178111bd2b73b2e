"""Form helpers shared by every area."""

from wtforms.fields.choices import SelectChoice


def choices(pairs):
    """(value, label) pairs as the choices of a SelectField."""
    return [SelectChoice(value, label) for value, label in pairs]


MAX_PAGE = 100_000


def page_number():
    """The ?page= argument as a page number from 1 to MAX_PAGE (anything else reads as 1)."""
    from flask import request

    value = request.args.get("page", 1, type=int) or 1
    return min(max(1, value), MAX_PAGE)
