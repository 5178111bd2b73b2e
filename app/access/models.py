"""Grants of users to services, members' requests for them, and notices of access about to end."""

from app.clock import utcnow
from app.extensions import db

GRANT_STATUSES = ("active", "pending", "suspended", "revoked")
SYNC_STATUSES = ("pending", "synced", "failed")
REQUEST_STATUSES = ("pending", "approved", "denied", "withdrawn")


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
    # Who ended it by hand (a director or an admin): asking again then needs a director's approval.
    revoked_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    expires_at = db.Column(db.DateTime, nullable=True, index=True)
    # A removal in its grace period: access stays until ends_at unless the cause is fixed first.
    ends_at = db.Column(db.DateTime, nullable=True, index=True)
    ending_reason = db.Column(db.String(255), nullable=True)
    # A removal the incident guard holds: access stays until the guard closes or an admin applies it.
    held_reason = db.Column(db.String(255), nullable=True)
    held_at = db.Column(db.DateTime, nullable=True, index=True)
    sync_status = db.Column(db.String(16), nullable=False, default="pending", index=True)
    # True once the outside system has been told of the grant (and until it is told of its end).
    provisioned = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # Who the outside system was last told about (state, character, corporation): a change means an update.
    synced_identity = db.Column(db.String(255), nullable=True)
    sync_error = db.Column(db.Text, nullable=True)
    # Why a pending sync is not going out yet: SYNC_WAITS["service"] (its service's governor holds it
    # back) or SYNC_WAITS["member"] (the member must act first, say link Discord); None otherwise.
    sync_wait = db.Column(db.String(16), nullable=True)
    synced_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        db.UniqueConstraint("user_id", "service_id", name="uq_grants_user_service"),
        db.CheckConstraint("status IN ('active', 'pending', 'suspended', 'revoked')", name="status_known"),
        db.CheckConstraint("source IN ('policy', 'manual', 'request')", name="source_known"),
        db.CheckConstraint("sync_status IN ('pending', 'synced', 'failed')", name="sync_known"),
        db.CheckConstraint("sync_wait IN ('service', 'member')", name="sync_wait_known"),
    )

    user = db.relationship("User", foreign_keys=[user_id], backref="grants")
    service = db.relationship("Service", backref="grants")
    granted_by = db.relationship("User", foreign_keys=[granted_by_id])
    revoked_by = db.relationship("User", foreign_keys=[revoked_by_id])

    @property
    def audit_name(self):
        """What the audit log calls this grant: its service and its user."""
        service, user = self.service, self.user
        return f"{service.name if service else '?'} for {user.display_name if user else '?'}"


def active_grant_of(user_id, service_id):
    """The user's active grant of the service, or None."""
    return db.session.scalars(
        db.select(Grant).filter_by(user_id=user_id, service_id=service_id, status="active")
    ).first()


def held_grant(user, service):
    """What a sign-in to the service rests on: the user's active grant of it while both the account
    and the service are enabled, or None."""
    if user is None or service is None or not user.is_active_account or not service.enabled:
        return None
    return active_grant_of(user.id, service.id)


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

    __table_args__ = (
        db.CheckConstraint("status IN ('pending', 'approved', 'denied', 'withdrawn')", name="status_known"),
    )

    user = db.relationship("User", foreign_keys=[user_id], backref="access_requests")
    service = db.relationship("Service")
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])


NOTICE_KINDS = ("ending", "ended")


class Notice(db.Model):
    """What a member is told about their access: a grant in its grace period ("ending"), one that
    ended ("ended"), or a request a director decided ("decided"). Shown on every page until
    dismissed, or until the cause is fixed (resolved)."""

    __tablename__ = "notices"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    grant_id = db.Column(
        db.Integer, db.ForeignKey("grants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind = db.Column(db.String(16), nullable=False)
    message = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    dismissed_at = db.Column(db.DateTime, nullable=True)
    resolved_at = db.Column(db.DateTime, nullable=True)
    # What became of the Discord direct message(s): sent at, skipped because, failed because.
    dm_status = db.Column(db.String(255), nullable=True)

    __table_args__ = (db.CheckConstraint("kind IN ('ending', 'ended', 'decided')", name="kind_known"),)

    user = db.relationship(
        "User", backref=db.backref("notices", cascade="all, delete-orphan", passive_deletes=True)
    )
    grant = db.relationship("Grant")
