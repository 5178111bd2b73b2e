"""Service forms: the admin's service editor, a member's request, a director's grant and decision."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

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
from app.services import names
from app.services.connectors.webhook import private_address
from app.services.models import KIND_NAMES, SERVICE_KINDS, Service

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DISCORD_ID_RE = re.compile(r"[0-9]{1,20}")
HOST_RE = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
URL_MESSAGE = "Give a full URL, e.g. https://forum.example.org/bastion."
KIND_HINTS = {
    "webhook": "signed JSON events",
    "forward_auth": "reverse proxy",
    "oidc": "wikis, forums, dashboards sign in through Bastion",
    "mumble": "voice, through Bastion's authenticator",
}
# The editor's choices: each kind's name as lists show it, and what it is for.
KIND_LABELS = {
    kind: f"{KIND_NAMES[kind]} ({KIND_HINTS[kind]})" if kind in KIND_HINTS else KIND_NAMES[kind]
    for kind in SERVICE_KINDS
}


def comma_list(text):
    """The items of a comma-separated field, stripped, without empty ones."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _port(text):
    return text.isdigit() and 1 <= int(text) <= 65535


def redirect_problem(uri):
    """Why a redirect URI cannot be registered, or None: https (http only to this machine), no fragment."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (a malformed port raises)
    except ValueError:
        return "not a URL."
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        return "use https (http only for localhost)."
    if not parts.hostname or parts.username or parts.password:
        return "give a host, without a user name or password."
    if parts.fragment or len(uri) > 500:
        return "no #fragment, and under 500 characters."
    return None


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
    redirect_uris = TextAreaField(
        "Redirect URIs",
        description="One per line: where the site receives members back after sign-in, such as "
        "https://wiki.example.org/oauth/callback. Only these are accepted.",
    )
    require_pkce = BooleanField(
        "Require PKCE (S256)",
        default=True,
        description="Leave on unless the site cannot send one; its secret still guards the code.",
    )
    post_logout_redirect_uris = TextAreaField(
        "Addresses after sign-out",
        description="One per line, optional: where the site may send members after signing them out "
        "of Bastion too (its post_logout_redirect_uri). Only these are accepted.",
    )
    oidc_groups = StringField(
        "Groups the site may see",
        description="Beyond its own (its short name and groups) and the member's state, which it "
        "always sees: groups or prefixes ending in *, comma-separated, such as director-*, fleet.",
    )
    ice_host = StringField("Ice host", description="Where the Mumble server's Ice interface listens.")
    ice_port = StringField("Ice port", default="6502")
    ice_secret = StringField(
        "Ice secret",
        description="The server's icesecretwrite (and icesecretread, set the same); empty keeps it.",
    )
    server_id = StringField("Virtual server id", default="1")
    mumble_address = StringField(
        "Address members connect to", description="Host and port, such as voice.example.org:64738."
    )
    mumble_groups = StringField(
        "Mumble groups",
        description="Comma-separated groups every member with access gets; Bastion adds their state, "
        "role and director-<ticker> groups.",
    )
    name_template = StringField(
        "Name template",
        description="What the service calls a member. Fields: "
        + ", ".join("{" + name + "} (" + meaning + ")" for name, meaning in names.FIELDS.items())
        + ". Empty for the default, [{ticker}] {name}.",
    )
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
        description="Whose corporation and alliance decide: the member's main character, or all of them.",
        default="main",
        choices=choices(
            [
                ("main", "The main character (its corporation and alliance decide)"),
                ("every", "Every character: none in a hostile corporation or alliance"),
            ]
        ),
    )
    strict = BooleanField(
        "Strict: suspend while any of the user's keys is invalid",
        description="The suspension waits out the grace period (ACCESS_GRACE) first, and the member is told.",
    )
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
        if value and self.kind.data in ("forward_auth", "oidc"):
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

    def validate_redirect_uris(self, field):
        if self.kind.data == "oidc" and not (field.data or "").split():
            raise ValidationError(
                "Give at least one redirect URI, such as https://wiki.example.org/callback."
            )
        self._check_addresses(field, "redirect URIs")

    def _check_addresses(self, field, what):
        """A site's addresses for an OpenID Connect client: at most 10, each one a redirect may use."""
        uris = (field.data or "").split()
        if self.kind.data != "oidc":
            return
        if len(uris) > 10:
            raise ValidationError(f"Give at most 10 {what}.")
        for uri in uris:
            problem = redirect_problem(uri)
            if problem:
                raise ValidationError(f"{uri[:80]}: {problem}")

    def validate_oidc_groups(self, field):
        groups = comma_list(field.data)
        if len(groups) > 20 or not all(GROUP_RE.fullmatch(g.removesuffix("*")) for g in groups):
            raise ValidationError(
                "Give up to 20 groups of letters, digits, dashes and underscores; a * may end one."
            )

    def validate_post_logout_redirect_uris(self, field):
        self._check_addresses(field, "addresses")

    def validate_ice_host(self, field):
        if self.kind.data == "mumble" and not HOST_RE.fullmatch((field.data or "").strip()):
            raise ValidationError("Give the host name or address of the Mumble server's Ice interface.")

    def validate_ice_port(self, field):
        if self.kind.data == "mumble" and not _port((field.data or "").strip()):
            raise ValidationError("Give a port number from 1 to 65535.")

    def validate_ice_secret(self, field):
        value = field.data or ""
        has_one = self.service is not None and self.service.settings.get("ice_secret")
        if self.kind.data == "mumble" and not value and not has_one:
            raise ValidationError(
                "Give the Mumble server's icesecretwrite (Bastion refuses servers without one)."
            )
        if len(value) > 256:
            raise ValidationError("Keep the secret under 256 characters.")

    def validate_server_id(self, field):
        value = (field.data or "").strip()
        if self.kind.data == "mumble" and not (value.isdigit() and 1 <= int(value) <= 1000):
            raise ValidationError("Give the virtual server's number, usually 1.")

    def validate_mumble_address(self, field):
        value = (field.data or "").strip()
        if self.kind.data == "mumble" and value:
            host, _, port = value.rpartition(":") if ":" in value else (value, "", "64738")
            if not HOST_RE.fullmatch(host) or not _port(port):
                raise ValidationError("Give a host and port, such as voice.example.org:64738.")

    def validate_mumble_groups(self, field):
        groups = comma_list(field.data)
        if len(groups) > 20 or not all(GROUP_RE.fullmatch(g) for g in groups):
            raise ValidationError("Give up to 20 groups of letters, digits, dashes and underscores.")

    def validate_name_template(self, field):
        value = (field.data or "").strip()
        if value:
            try:
                names.parse(value)
            except names.TemplateError as exc:
                raise ValidationError(str(exc)) from None

    def validate_role_ids(self, field):
        ids = comma_list(field.data)
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
