"""Services (outside systems and their policy) and members' linked Discord accounts."""

import json

from app import crypto
from app.clock import utcnow
from app.extensions import db

SERVICE_KINDS = ("webhook", "forward_auth", "discord", "oidc", "mumble")
KIND_NAMES = {
    "webhook": "Webhook",
    "forward_auth": "Forward auth",
    "discord": "Discord",
    "oidc": "OpenID Connect",
    "mumble": "Mumble",
}


class Service(db.Model):
    """An outside system (Discord, a forum, a wiki) and the policy deciding who may use it."""

    __tablename__ = "services"

    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(64), nullable=False, unique=True)
    name = db.Column(db.String(128), nullable=False)
    kind = db.Column(db.String(32), nullable=False)
    settings_encrypted = db.Column(db.Text, nullable=False, default="")
    auto_states = db.Column(db.String(64), nullable=False, default="")
    requires_approval = db.Column(db.Boolean, nullable=False, default=False)
    strict = db.Column(db.Boolean, nullable=False, default=False)
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # The states whose members may ask for the service (it may still need a director's approval).
    request_states = db.Column(db.String(64), nullable=False, default="", server_default="")
    # Whether directors may give it by hand (admins always may).
    directors_may_grant = db.Column(db.Boolean, nullable=False, default=False, server_default=db.true())
    # Who must qualify: the main character only, or every character of the user (no hostile alt).
    qualify = db.Column(db.String(8), nullable=False, default="main", server_default="main")
    # Every character of the user that is in their corporation in game (as its tracking token
    # reads it) must have a key here.
    require_registered = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # What the service calls a member (a Discord nickname, a Mumble username); None: the kind's default.
    name_template = db.Column(db.String(128), nullable=True)

    __table_args__ = (
        db.CheckConstraint(
            "kind IN ('webhook', 'forward_auth', 'discord', 'oidc', 'mumble')", name="kind_known"
        ),
        db.CheckConstraint("qualify IN ('main', 'every')", name="qualify_known"),
    )

    @property
    def settings(self):
        """The connector's settings (URL, secrets, role ids), decrypted."""
        if not self.settings_encrypted:
            return {}
        return json.loads(crypto.decrypt(self.settings_encrypted))

    @settings.setter
    def settings(self, value):
        self.settings_encrypted = crypto.encrypt(json.dumps(value or {}, sort_keys=True))

    @property
    def kind_name(self):
        """The kind in words, as lists show it."""
        return KIND_NAMES.get(self.kind, self.kind)

    @property
    def auto_state_list(self):
        """The states that get this service automatically."""
        return [state for state in (self.auto_states or "").split(",") if state]

    @property
    def request_state_list(self):
        """The states that may ask for this service."""
        return [state for state in (self.request_states or "").split(",") if state]

    def __repr__(self):
        return f"<Service {self.slug} {self.kind}>"


class DiscordLink(db.Model):
    """A member's linked Discord account, with its OAuth2 tokens encrypted (for joining the server)."""

    __tablename__ = "discord_links"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(
        db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    discord_user_id = db.Column(db.String(32), nullable=False, unique=True)
    username = db.Column(db.String(64), nullable=False)
    # None for a link imported from Alliance Auth: its member is in the server already, so the bot
    # gives roles and nickname without joining them.
    access_token_encrypted = db.Column(db.Text, nullable=True)
    refresh_token_encrypted = db.Column(db.Text, nullable=True)
    expires_at = db.Column(db.DateTime, nullable=True)
    linked_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User", backref=db.backref("discord", uselist=False, cascade="all, delete-orphan"))


class MumbleAccount(db.Model):
    """A member's login on a Mumble service: the username its template made, and a hashed password."""

    __tablename__ = "mumble_accounts"

    id = db.Column(db.Integer, primary_key=True)
    service_id = db.Column(db.Integer, db.ForeignKey("services.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    username = db.Column(db.String(128), nullable=False)
    # The username case-folded in Python (str.casefold), so both databases compare names alike:
    # SQLite's lower() folds ASCII only, and "Ærin" would never find "ærin".
    username_folded = db.Column(db.String(128), nullable=False, default="", server_default="")
    display_name = db.Column(db.String(128), nullable=False)
    password_hash = db.Column(db.String(255), nullable=True)
    password_set_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.UniqueConstraint("service_id", "user_id", name="uq_mumble_accounts_service_user"),
        db.UniqueConstraint("service_id", "username", name="uq_mumble_accounts_service_username"),
        db.Index("ix_mumble_accounts_service_folded", "service_id", "username_folded"),
    )

    user = db.relationship("User")
    service = db.relationship("Service")
