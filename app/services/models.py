"""Services, the grants of users to them, and access requests."""

import json

from app.extensions import db
from app.models import utcnow

SERVICE_KINDS = ("webhook", "forward_auth", "discord")
GRANT_STATUSES = ("active", "pending", "suspended", "revoked")
SYNC_STATUSES = ("pending", "synced", "failed")
REQUEST_STATUSES = ("pending", "approved", "denied")


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

    __table_args__ = (
        db.CheckConstraint("kind IN ('webhook', 'forward_auth', 'discord')", name="kind_known"),
    )

    @property
    def settings(self):
        """The connector's settings (URL, secrets, role ids), decrypted."""
        from app import crypto

        if not self.settings_encrypted:
            return {}
        return json.loads(crypto.decrypt(self.settings_encrypted))

    @settings.setter
    def settings(self, value):
        from app import crypto

        self.settings_encrypted = crypto.encrypt(json.dumps(value or {}, sort_keys=True))

    @property
    def auto_state_list(self):
        """The states that get this service automatically."""
        return [state for state in (self.auto_states or "").split(",") if state]

    def __repr__(self):
        return f"<Service {self.slug} {self.kind}>"


class Grant(db.Model):
    """A user's access to a service, where it came from, and its sync with the outside system."""

    __tablename__ = "grants"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    service_id = db.Column(db.Integer, db.ForeignKey("services.id", ondelete="CASCADE"), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending")
    source = db.Column(db.String(16), nullable=False, default="policy")
    granted_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reason = db.Column(db.String(255), nullable=True)
    expires_at = db.Column(db.DateTime, nullable=True, index=True)
    sync_status = db.Column(db.String(16), nullable=False, default="pending", index=True)
    # True once the outside system has been told of the grant (and until it is told of its end).
    provisioned = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # Who the outside system was last told about (state, character, corporation): a change means an update.
    synced_identity = db.Column(db.String(255), nullable=True)
    sync_error = db.Column(db.Text, nullable=True)
    synced_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        db.UniqueConstraint("user_id", "service_id", name="uq_grants_user_service"),
        db.CheckConstraint("status IN ('active', 'pending', 'suspended', 'revoked')", name="status_known"),
        db.CheckConstraint("source IN ('policy', 'manual')", name="source_known"),
        db.CheckConstraint("sync_status IN ('pending', 'synced', 'failed')", name="sync_known"),
    )

    user = db.relationship("User", foreign_keys=[user_id], backref="grants")
    service = db.relationship("Service", backref="grants")
    granted_by = db.relationship("User", foreign_keys=[granted_by_id])


class AccessRequest(db.Model):
    """A member's request for a service that needs a director's approval."""

    __tablename__ = "access_requests"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    service_id = db.Column(db.Integer, db.ForeignKey("services.id", ondelete="CASCADE"), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending", index=True)
    note = db.Column(db.String(500), nullable=True)
    decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at = db.Column(db.DateTime, nullable=True)
    decision_reason = db.Column(db.String(255), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.CheckConstraint("status IN ('pending', 'approved', 'denied')", name="status_known"),)

    user = db.relationship("User", foreign_keys=[user_id], backref="access_requests")
    service = db.relationship("Service")
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])


class DiscordLink(db.Model):
    """A member's linked Discord account, with its OAuth2 tokens encrypted (for joining the server)."""

    __tablename__ = "discord_links"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(
        db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    discord_user_id = db.Column(db.String(32), nullable=False, unique=True)
    username = db.Column(db.String(64), nullable=False)
    access_token_encrypted = db.Column(db.Text, nullable=False)
    refresh_token_encrypted = db.Column(db.Text, nullable=True)
    expires_at = db.Column(db.DateTime, nullable=True)
    linked_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User", backref=db.backref("discord", uselist=False, cascade="all, delete-orphan"))
