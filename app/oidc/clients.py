"""Making and changing a service's OpenID Connect client (a new secret is returned once, never kept),
and forgetting codes and tokens that can no longer be used."""

import secrets

from app.clock import utcnow
from app.extensions import db
from app.oidc import keys
from app.oidc.models import OidcClient, OidcCode, OidcToken, digest


def ensure_client(service, redirect_uris, require_pkce=True):
    """The service's client with these redirect URIs, and its secret when the client is new (else None)."""
    client = service.oidc_client
    secret = None
    if client is None:
        client = OidcClient(service=service, client_id=f"{service.slug}-{secrets.token_hex(6)}")
        db.session.add(client)
        secret = new_secret(client)
    client.redirect_uris = "\n".join(redirect_uris)
    client.require_pkce = require_pkce
    return client, secret


def new_secret(client):
    """Give the client a new secret (the old one stops working) and return it."""
    secret = secrets.token_urlsafe(32)
    client.secret_hash = digest(secret)
    client.secret_set_at = utcnow()
    return secret


def prune(now=None):
    """Forget used-up codes and tokens, and signing keys no longer published; how many of each."""
    now = now or utcnow()
    codes = db.session.execute(db.delete(OidcCode).where(OidcCode.expires_at < now)).rowcount
    dead = db.or_(
        # A turned-over token is kept until its refresh would have expired, to know it if it comes back.
        db.and_(OidcToken.revoked.is_(True), OidcToken.rotated_at.is_(None)),
        OidcToken.refresh_expires_at < now,
        db.and_(
            OidcToken.refresh_hash.is_(None), OidcToken.issued_at + OidcToken.expires_in < now.timestamp()
        ),
    )
    tokens = db.session.execute(db.delete(OidcToken).where(dead)).rowcount
    db.session.commit()
    return codes, tokens, keys.forget_old()
