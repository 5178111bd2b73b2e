"""Service forms: the admin's service editor, a member's request, a director's grant and decision."""

import re
from datetime import UTC, datetime, timedelta

from flask import current_app
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.validators import URL, DataRequired, Length, Optional

from app.accounts.models import STATES
from app.extensions import db
from app.forms import BaseForm, choices
from app.services.connectors.webhook import private_address
from app.services.models import SERVICE_KINDS, Service

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DISCORD_ID_RE = re.compile(r"[0-9]{1,20}")
URL_MESSAGE = "Give a full URL, e.g. https://forum.example.org/bastion."
KIND_LABELS = {
    "webhook": "Webhook (signed JSON events)",
    "forward_auth": "Forward auth (reverse proxy)",
    "discord": "Discord",
}


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a multiple choice."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def parse_expiry(text):
    """ "2026-11-21T18:00" or with seconds, read as UTC; None for empty; ValueError when malformed."""
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("Give the expiry as a date and time, e.g. 2026-12-31T18:00 (UTC).")


MAX_EXPIRY = timedelta(days=5 * 365)


class ExpiryInput(widgets.DateTimeLocalInput):
    """A date-time picker (UTC) that offers only the moments an expiry may take."""

    def __call__(self, field, **kwargs):
        now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        kwargs.setdefault("min", (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
        kwargs.setdefault("max", (now + MAX_EXPIRY).strftime("%Y-%m-%dT%H:%M"))
        return super().__call__(field, **kwargs)


class ExpiryField(StringField):
    """An optional UTC date and time in the future, at most five years away."""

    widget = ExpiryInput()

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.moment = None

    def pre_validate(self, form):
        try:
            self.moment = parse_expiry(self.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        now = datetime.now(UTC).replace(tzinfo=None)
        if self.moment is not None and self.moment <= now:
            raise ValidationError("The expiry must be in the future.")
        if self.moment is not None and self.moment > now + MAX_EXPIRY:
            raise ValidationError("The expiry can be at most five years away.")


class ServiceForm(BaseForm):
    """Create or edit a service and its policy."""

    name = StringField("Name", validators=[DataRequired("Give the service a name."), Length(max=128)])
    slug = StringField(
        "Short name",
        validators=[DataRequired("Give the service a short name."), Length(max=63)],
        description="Lower-case letters, digits and dashes; used in URLs such as /auth/forward/<short name>.",
    )
    kind = SelectField("Kind", choices=choices([(k, KIND_LABELS[k]) for k in SERVICE_KINDS]))
    # Which of these are needed depends on the kind: the validate_* methods below decide.
    url = StringField("Webhook URL")
    site_url = StringField(
        "Site address",
        description="Where members open it, such as https://wiki.example.org; My services links to it.",
    )
    secret = StringField("Signing secret", description="Leave empty to keep the current one.")
    guild_id = StringField("Discord server id")
    role_ids = StringField("Discord role ids", description="Comma-separated.")
    auto_states = MultiCheckboxField(
        "Given automatically to", choices=choices([(s, f"{s}s") for s in STATES])
    )
    request_states = MultiCheckboxField(
        "May ask for it",
        choices=choices([(s, f"{s}s") for s in STATES]),
        description="Members in these states see a Request button; nobody else can ask.",
    )
    requires_approval = BooleanField("Requests need a director's approval")
    directors_may_grant = BooleanField("Directors may give it by hand (admins always may)")
    qualify = SelectField(
        "Who must qualify",
        default="main",
        choices=choices(
            [
                ("main", "The main character (its corporation and alliance decide)"),
                ("every", "Every character: none in a hostile corporation or alliance"),
            ]
        ),
    )
    strict = BooleanField("Strict: suspend while any of the user's keys is invalid")
    require_registered = BooleanField(
        "Every character of the user in the corporation in game must be registered",
        description="Read with the corporation's tracking token; a missing character suspends "
        "access after the grace period, with a notice.",
    )
    enabled = BooleanField("Enabled", default=True)
    submit = SubmitField("Save")

    def __init__(self, *args, service=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service

    def validate_slug(self, field):
        if not SLUG_RE.match(field.data or ""):
            raise ValidationError(
                "Use lower-case letters, digits and dashes, starting with a letter or digit."
            )
        other = db.session.scalars(db.select(Service).filter_by(slug=field.data)).first()
        if other is not None and other is not self.service:
            raise ValidationError("Another service has this short name.")

    def validate_url(self, field):
        value = (field.data or "").strip()
        if self.kind.data == "webhook" and not value:
            raise ValidationError("A webhook needs the URL events are sent to.")
        if value:
            if len(value) > 500:
                raise ValidationError("Keep the URL under 500 characters.")
            URL(require_tld=False, message=URL_MESSAGE)(self, field)
            if self.kind.data == "webhook" and not current_app.config.get("WEBHOOK_ALLOW_PRIVATE"):
                address = private_address(value, resolve=False)  # names: checked at each send
                if address is not None:
                    raise ValidationError(
                        f"This URL leads to a private address ({address}). Webhooks go to public "
                        "addresses only, unless the server sets WEBHOOK_ALLOW_PRIVATE."
                    )

    def validate_site_url(self, field):
        value = (field.data or "").strip()
        if value and self.kind.data == "forward_auth":
            if len(value) > 500 or not value.lower().startswith(("https://", "http://")):
                raise ValidationError("Give the site's address, starting with https://.")
            URL(require_tld=False, message=URL_MESSAGE)(self, field)

    def validate_secret(self, field):
        value = field.data or ""
        if value and not 16 <= len(value) <= 256:
            raise ValidationError("The secret needs 16 to 256 characters.")
        has_one = self.service is not None and self.service.settings.get("secret")
        if self.kind.data == "webhook" and not value and not has_one:
            raise ValidationError("A webhook needs a signing secret of at least 16 characters.")

    def validate_guild_id(self, field):
        value = (field.data or "").strip()
        if self.kind.data == "discord" and not DISCORD_ID_RE.fullmatch(value):
            raise ValidationError("Give the Discord server's numeric id.")
        if value and not DISCORD_ID_RE.fullmatch(value):
            raise ValidationError("A Discord server id is a number of up to 20 digits.")

    def validate_role_ids(self, field):
        ids = [p.strip() for p in (field.data or "").split(",") if p.strip()]
        if self.kind.data == "discord" and not ids:
            raise ValidationError("Give one or more numeric role ids, separated by commas.")
        if not all(DISCORD_ID_RE.fullmatch(p) for p in ids) or len(ids) > 25:
            raise ValidationError("Give up to 25 numeric role ids, separated by commas.")


class RequestForm(BaseForm):
    """A member asks for a service."""

    note = TextAreaField(
        "Why (optional)",
        validators=[Optional(), Length(max=500, message="Keep the note under 500 characters.")],
    )
    submit = SubmitField("Request access")


class GrantForm(BaseForm):
    """A director grants a service by hand."""

    service = SelectField("Service", coerce=str, validators=[DataRequired("Pick a service.")])
    expires_at = ExpiryField(
        "Expires (UTC, optional)", description="A moment within five years, in UTC; empty for no expiry."
    )
    reason = StringField(
        "Reason", validators=[Optional(), Length(max=255, message="Keep the reason under 255 characters.")]
    )
    submit = SubmitField("Grant")


class RevokeForm(BaseForm):
    """A director revokes a grant given by hand."""

    reason = StringField(
        "Reason", validators=[Optional(), Length(max=255, message="Keep the reason under 255 characters.")]
    )
    submit = SubmitField("Revoke")


class DecisionForm(BaseForm):
    """A director approves or denies a request."""

    decision = SelectField("Decision", choices=choices([("approve", "Approve"), ("deny", "Deny")]))
    expires_at = ExpiryField("Expires (UTC, optional)")
    reason = StringField(
        "Reason", validators=[Optional(), Length(max=255, message="Keep the reason under 255 characters.")]
    )
    submit = SubmitField("Decide")
