"""Keys: one character's SSO grant, with its health."""

from app.clock import utcnow
from app.extensions import db

KEY_STATUSES = ("pending", "valid", "invalid", "error")
# The one verdict that moves a member's state at once: someone else owns the character now.
REASON_SOLD = "The character was transferred to another EVE account (owner hash changed)."
# What each scope Bastion asks for lets it do, in a member's words.
SCOPE_WORDS = {
    "esi-characters.read_corporation_roles.v1": (
        "read the character's corporation roles (a director's powers here)"
    ),
    "esi-corporations.read_corporation_membership.v1": (
        "read the corporation's member list (a tracking token)"
    ),
}


class Key(db.Model):
    """A character's SSO grant; its refresh token is stored encrypted, never in clear."""

    __tablename__ = "keys"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    character_id = db.Column(
        db.BigInteger, db.ForeignKey("characters.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    owner_hash = db.Column(db.String(128), nullable=False)
    scopes = db.Column(db.Text, nullable=False, default="")
    refresh_token_encrypted = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(16), nullable=False, default="pending", index=True)
    reason = db.Column(db.String(255), nullable=True)
    needs_reauth = db.Column(db.Boolean, nullable=False, default=False)
    last_checked_at = db.Column(db.DateTime, nullable=True)
    last_ok_at = db.Column(db.DateTime, nullable=True)
    next_check_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    consecutive_failures = db.Column(db.Integer, nullable=False, default=0)
    # Claimed (compare-and-set) just before a refresh is sent and cleared once the rotated token is
    # stored. A claim older than the lock TTL means the run holding it was cut off. This guards the
    # refresh even when Redis lost its locks.
    refresh_started_at = db.Column(db.DateTime, nullable=True)
    # The last refresh ended without knowing whether SSO rotated the token (timeout, 5xx, cut off).
    refresh_uncertain = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    error_since = db.Column(db.DateTime, nullable=True)
    # A definitive verdict the incident guard holds (the key keeps its last status until a re-check).
    held_reason = db.Column(db.String(255), nullable=True)
    held_at = db.Column(db.DateTime, nullable=True, index=True)
    # Where the grant came from: "sso" (added here) or "allianceauth" (imported, see app/imports).
    source = db.Column(db.String(16), nullable=False, default="sso", server_default="sso", index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.CheckConstraint("status IN ('pending', 'valid', 'invalid', 'error')", name="status_known"),
    )

    user = db.relationship("User", backref=db.backref("keys", cascade="all, delete-orphan"))
    character = db.relationship("Character", backref=db.backref("key", uselist=False))

    @property
    def audit_name(self):
        """What the audit log calls this key: its character's name."""
        return self.character.name if self.character is not None else None

    @property
    def scope_list(self):
        """The granted scopes as a list."""
        return self.scopes.split() if self.scopes else []

    def missing_scopes(self, wanted):
        """The scopes Bastion asks for that this grant lacks, in words (a key imported from Alliance
        Auth often holds publicData alone). Such a key still proves identity and corporation."""
        have = set(self.scope_list)
        return [SCOPE_WORDS.get(scope, scope) for scope in wanted if scope not in have]
