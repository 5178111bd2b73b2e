"""Admin forms: tracking corporations and alliances, roles, directors, searches and filters."""

from wtforms import SelectField, StringField, SubmitField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.accounts.models import ROLES, STATES
from app.forms import BaseForm, choices
from app.keys.models import KEY_STATUSES

EVE_ID_MAX = 2**63 - 1


class TrackForm(BaseForm):
    """Track a corporation or alliance by its EVE id or its name."""

    kind = SelectField("What", choices=choices([("corporation", "Corporation"), ("alliance", "Alliance")]))
    entity_id = StringField(
        "EVE id or name",
        validators=[
            InputRequired("Give the EVE id (a whole number, e.g. 98000001) or the full name."),
            Length(max=100, message="Names in EVE have at most 100 characters."),
        ],
        description="The full name as EVE spells it (any case), a ticker Bastion knows, or the EVE id.",
    )
    tracked_as = SelectField(
        "Counts as", choices=choices([("member", "member"), ("blue", "blue"), ("hostile", "hostile")])
    )
    submit = SubmitField("Track")

    def validate_entity_id(self, field):
        value = (field.data or "").strip()
        if not value:
            raise ValidationError("Give the EVE id (a whole number, e.g. 98000001) or the full name.")
        if value.isdigit() and not 1 <= int(value) <= EVE_ID_MAX:
            raise ValidationError("EVE ids are positive whole numbers.")
        field.data = value


class TrackingForm(BaseForm):
    """Change or end the tracking of a corporation or alliance."""

    tracked_as = SelectField(
        "Counts as",
        choices=choices(
            [("member", "member"), ("blue", "blue"), ("hostile", "hostile"), ("", "not tracked")]
        ),
    )
    submit = SubmitField("Save")


class RoleForm(BaseForm):
    """Change a user's role."""

    role = SelectField("Role", choices=choices([(r, r) for r in ROLES]))
    submit = SubmitField("Change role")


class AppointForm(BaseForm):
    """Appoint a user director of a tracked corporation."""

    corporation_id = SelectField("Corporation", coerce=str, validators=[DataRequired("Pick a corporation.")])
    submit = SubmitField("Appoint")


class UserSearchForm(BaseForm):
    """Search users (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Name", validators=[Optional(), Length(max=128)])
    role = SelectField(
        "Role", choices=choices([("", "any role")] + [(r, r) for r in ROLES]), validators=[Optional()]
    )
    state = SelectField(
        "State", choices=choices([("", "any state")] + [(s, s) for s in STATES]), validators=[Optional()]
    )


class KeySearchForm(BaseForm):
    """Search keys by character, corporation or status (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Character or corporation", validators=[Optional(), Length(max=128)])
    status = SelectField(
        "Status",
        choices=choices([("", "any status")] + [(s, s) for s in KEY_STATUSES]),
        validators=[Optional()],
    )


class AuditFilterForm(BaseForm):
    """Filter the audit log (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    action = StringField(
        "Action", validators=[Optional(), Length(max=64)], description="e.g. grant. or queue.pause"
    )
    actor = StringField("Who", validators=[Optional(), Length(max=128)])
    target = StringField(
        "Target", validators=[Optional(), Length(max=64)], description="e.g. user:12 or grant"
    )
