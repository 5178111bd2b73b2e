"""Users, their roles and their directorships."""

import secrets

from blinker import Namespace
from flask import current_app
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.clock import utcnow
from app.extensions import db

ROLES = ("member", "director", "admin")
STATES = ("member", "blue", "guest")


def new_session_token():
    """A fresh token for a user's sessions; replacing it ends every session made with the old one."""
    return secrets.token_urlsafe(32)


# Sent when a user is signed out everywhere (or changes their password): what their sessions minted
# elsewhere ends too. The OpenID Connect provider revokes their tokens at every site, the Mumble
# accounts forget their passwords; each receiver changes the session, the sender's caller commits.
signed_out_everywhere = Namespace().signal("signed-out-everywhere")


def password_hash_method():
    """How passwords are hashed here: the app's PASSWORD_HASH_METHOD (scrypt unless testing)."""
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")


class User(UserMixin, db.Model):
    """A person: an admin with a local password, or a member who logs in with EVE SSO."""

    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=True)
    password_hash = db.Column(db.String(256), nullable=True)
    role = db.Column(db.String(16), nullable=False, default="member")
    state = db.Column(db.String(16), nullable=False, default="guest")
    main_character_id = db.Column(
        db.BigInteger,
        db.ForeignKey("characters.id", use_alter=True, ondelete="SET NULL"),
        nullable=True,
    )
    is_active_account = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime, nullable=True)
    state_changed_at = db.Column(db.DateTime, nullable=True)
    reconciled_at = db.Column(db.DateTime, nullable=True)
    # When the user's grants were last brought in line; a state changed since owes it (the task
    # doing it was lost with Redis, say) and services.expire finds it here.
    grants_reconciled_at = db.Column(db.DateTime, nullable=True)
    # Notices of access about to end also go as a Discord direct message (when Discord is linked).
    notify_by_dm = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    # What sessions and remember-me cookies carry instead of the id (Flask-Login's alternative id).
    session_token = db.Column(
        db.String(64), nullable=False, unique=True, index=True, default=new_session_token
    )

    __table_args__ = (
        db.CheckConstraint("role IN ('member', 'director', 'admin')", name="role_known"),
        db.CheckConstraint("state IN ('member', 'blue', 'guest')", name="state_known"),
    )

    main_character = db.relationship("Character", foreign_keys=[main_character_id], post_update=True)

    def set_password(self, password):
        """Store a salted hash of the password, never the password itself; the user is signed out
        everywhere (sessions, sites' tokens, Mumble passwords)."""
        self.password_hash = generate_password_hash(password, method=password_hash_method())
        self.sign_out_everywhere()

    def get_id(self):
        """What the session and the remember-me cookie hold: the token, never the bare id."""
        if self.session_token is None:
            self.session_token = new_session_token()
        return self.session_token

    def end_sessions(self):
        """End every session and remember-me cookie of this user."""
        self.session_token = new_session_token()

    def sign_out_everywhere(self):
        """End every session, and what sessions minted: tokens sites hold, Mumble passwords."""
        self.end_sessions()
        if self.id is not None:
            signed_out_everywhere.send(self)

    def check_password(self, password):
        """True when the password matches the stored hash."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        """Flask-Login refuses sessions of disabled accounts."""
        return self.is_active_account

    @property
    def is_admin(self):
        """True for admins."""
        return self.role == "admin"

    @property
    def display_name(self):
        """The main character's name, or the username for local accounts."""
        if self.main_character is not None:
            return self.main_character.name
        return self.username or f"user {self.id}"

    @property
    def audit_name(self):
        """What the audit log calls this user: their main's name."""
        return self.display_name

    def has_role(self, *roles):
        """True when the user holds one of the roles; admins hold every role."""
        return self.role == "admin" or self.role in roles

    def __repr__(self):
        return f"<User {self.id} {self.display_name!r}>"


class Directorship(db.Model):
    """A user who directs a tracked corporation, found from ESI roles or appointed by an admin."""

    __tablename__ = "directorships"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    corporation_id = db.Column(
        db.BigInteger, db.ForeignKey("corporations.id", ondelete="CASCADE"), nullable=False
    )
    source = db.Column(db.String(16), nullable=False, default="appointed")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.UniqueConstraint("user_id", "corporation_id", name="uq_directorships_user_corporation"),
        db.CheckConstraint("source IN ('esi', 'appointed')", name="source_known"),
    )

    user = db.relationship("User", backref=db.backref("directorships", cascade="all, delete-orphan"))
    corporation = db.relationship("Corporation")
