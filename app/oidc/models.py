"""OpenID Connect clients (one per service of kind oidc), authorization codes, tokens and signing keys.

Client secrets, codes and tokens are random strings of 32 bytes or more, so a SHA-256 of each is
stored, never the value: a stolen database signs nobody in. Signing keys are encrypted at rest.
The methods named get_* and check_* are the interfaces Authlib's grants call.
"""

import hashlib
import hmac
import time
from datetime import timedelta

from app.clock import utcnow
from app.extensions import db

SCOPES = ("openid", "profile", "email", "groups")
GRANT_TYPES = ("authorization_code", "refresh_token")


def digest(secret):
    """The stored form of a secret, code or token."""
    return hashlib.sha256(secret.encode()).hexdigest()


class OidcClient(db.Model):
    """The OpenID Connect client of one service: its id, hashed secret and allowed redirect URIs."""

    __tablename__ = "oidc_clients"

    id = db.Column(db.Integer, primary_key=True)
    service_id = db.Column(
        db.Integer, db.ForeignKey("services.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    client_id = db.Column(db.String(64), nullable=False, unique=True)
    secret_hash = db.Column(db.String(64), nullable=False)
    redirect_uris = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    secret_set_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # PKCE (S256) on every sign-in; off only for a site that cannot send it.
    require_pkce = db.Column(db.Boolean, nullable=False, default=True)
    # Groups the site may see in the groups claim beyond its own service's and the member's state:
    # names, or prefixes ending in * (director-*), space-separated.
    visible_groups = db.Column(db.Text, nullable=False, default="", server_default="")
    # Where the site may send members after signing them out through Bastion (RP-initiated logout).
    post_logout_redirect_uris = db.Column(db.Text, nullable=False, default="", server_default="")

    service = db.relationship(
        "Service", backref=db.backref("oidc_client", uselist=False, passive_deletes=True)
    )

    client_metadata = {}  # registered metadata Authlib reads (none: plain JSON userinfo, RS256 ID tokens)

    def may_see(self, group, user):
        """True when the groups claim may show this site the group: its own service's short name
        and groups, the member's state, and what the admin listed for it."""
        service = self.service
        if group in (service.slug, user.state) or group in service.settings.get("groups", []):
            return True
        for allowed in (self.visible_groups or "").split():
            if group == allowed or (allowed.endswith("*") and group.startswith(allowed[:-1])):
                return True
        return False

    @property
    def post_logout_uri_list(self):
        return [uri for uri in (self.post_logout_redirect_uris or "").split() if uri]

    @property
    def redirect_uri_list(self):
        return [uri for uri in (self.redirect_uris or "").split() if uri]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        uris = self.redirect_uri_list
        return uris[0] if uris else None

    def get_allowed_scope(self, scope):
        """The asked scopes Bastion knows, in their order (others, such as email, are dropped)."""
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uri_list

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(digest(client_secret or ""), self.secret_hash)

    def check_endpoint_auth_method(self, method, endpoint):
        if endpoint in ("token", "revocation"):
            return method in ("client_secret_basic", "client_secret_post")
        return True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in GRANT_TYPES


class OidcCode(db.Model):
    """An authorization code, good once for a minute; kept, used, until it expires, so that a code
    that comes back is known and the tokens it gave are revoked (RFC 6749, 4.1.2)."""

    __tablename__ = "oidc_codes"

    id = db.Column(db.Integer, primary_key=True)
    code_hash = db.Column(db.String(64), nullable=False, unique=True)
    client_id = db.Column(db.String(64), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    redirect_uri = db.Column(db.Text, nullable=False, default="")
    scope = db.Column(db.Text, nullable=False, default="")
    nonce = db.Column(db.String(255), nullable=True)
    code_challenge = db.Column(db.String(128), nullable=True)
    code_challenge_method = db.Column(db.String(16), nullable=True)
    # When the member signed in (the session's sign-in), or None when the session does not know.
    auth_time = db.Column(db.Integer, nullable=True)
    expires_at = db.Column(db.DateTime, nullable=False)
    used_at = db.Column(db.DateTime, nullable=True)  # swapped for tokens then
    family = db.Column(db.String(32), nullable=True)  # of the tokens it was swapped for

    def is_expired(self):
        return self.expires_at <= utcnow()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class OidcToken(db.Model):
    """An access token and its refresh token, as hashes, for one user and client."""

    __tablename__ = "oidc_tokens"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.String(64), nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    scope = db.Column(db.Text, nullable=False, default="")
    access_hash = db.Column(db.String(64), nullable=False, unique=True)
    refresh_hash = db.Column(db.String(64), nullable=True, unique=True)
    issued_at = db.Column(db.Integer, nullable=False)
    expires_in = db.Column(db.Integer, nullable=False)
    refresh_expires_at = db.Column(db.DateTime, nullable=True)
    revoked = db.Column(db.Boolean, nullable=False, default=False)
    # The tokens one sign-in led to, through every refresh: when a refresh token that was already
    # turned over comes back, someone holds a copy, and the whole family is revoked.
    family = db.Column(db.String(32), nullable=True, index=True)
    rotated_at = db.Column(db.DateTime, nullable=True)  # its refresh token was turned over then
    # However often it is refreshed, a family ends this long after the sign-in (OIDC_FAMILY_DAYS).
    family_expires_at = db.Column(db.DateTime, nullable=True)

    user = db.relationship("User")

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return self.issued_at + self.expires_in < time.time()

    def is_revoked(self):
        return self.revoked

    def is_refresh_active(self):
        return (
            not self.revoked
            and self.refresh_hash is not None
            and (self.refresh_expires_at is None or self.refresh_expires_at > utcnow())
        )

    def get_user(self):
        return self.user

    def get_client(self):
        return db.session.scalars(db.select(OidcClient).filter_by(client_id=self.client_id)).first()


class SigningKey(db.Model):
    """A key that signs ID tokens: published first, signing from signs_at (sites' cached JWKS
    must know it by then), retired when the next one signs, and still published a while after."""

    __tablename__ = "oidc_signing_keys"

    id = db.Column(db.Integer, primary_key=True)
    kid = db.Column(db.String(64), nullable=False, unique=True)
    private_encrypted = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    signs_at = db.Column(db.DateTime, nullable=True)  # None: since it was made
    retired_at = db.Column(db.DateTime, nullable=True)

    @property
    def signs_from(self):
        """When this key signs (or signed) its first token."""
        return self.signs_at or self.created_at

    def published_until(self, keep):
        """Until when the JWKS lists this key."""
        return None if self.retired_at is None else self.retired_at + timedelta(seconds=keep)
