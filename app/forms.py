"""Form helpers shared by every area."""

from wtforms.fields.choices import SelectChoice


def choices(pairs):
    """(value, label) pairs as the choices of a SelectField."""
    return [SelectChoice(value, label) for value, label in pairs]
