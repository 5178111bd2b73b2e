"""The keys that sign ID tokens, and the JWKS clients check them with.

The newest key signs. A key older than OIDC_KEY_ROTATE_DAYS is retired when the next token is
signed (or at once with ``flask oidc rotate-key``), and stays in the JWKS for OIDC_KEY_KEEP_S
more seconds, so tokens it signed, and clients' cached copies of the JWKS, keep working.
"""

import functools
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from joserfc.jwk import KeySet, RSAKey

from app import crypto
from app.clock import utcnow
from app.extensions import db
from app.oidc.models import SigningKey

ALGORITHM = "RS256"


def _new_key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(kid=secrets.token_hex(8), private_encrypted=crypto.encrypt(pem))


def rotate():
    """Make a new signing key and retire the ones before it; the new key's kid."""
    now = utcnow()
    for key in db.session.scalars(db.select(SigningKey).where(SigningKey.retired_at.is_(None))):
        key.retired_at = now
    key = _new_key()
    db.session.add(key)
    db.session.commit()
    return key.kid


def current():
    """The key that signs now, made or rotated when due."""
    key = db.session.scalars(
        db.select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.id.desc())
    ).first()
    days = current_app.config["OIDC_KEY_ROTATE_DAYS"]
    if key is None or key.created_at < utcnow() - timedelta(days=days):
        rotate()
        return current()
    return key


def as_jwk(key, private=False):
    """A key as a joserfc key (with its kid)."""
    pair = _loaded(key.kid, key.private_encrypted)
    return pair[0] if private else pair[1]


@functools.lru_cache(maxsize=16)
def _loaded(kid, private_encrypted):
    """(private, public) joserfc keys, loaded once per process: loading an RSA key checks it, which
    takes about 60 ms, and a kid never changes its key."""
    pem = crypto.decrypt(private_encrypted)
    private = RSAKey.import_key(pem, {"kid": kid, "use": "sig", "alg": ALGORITHM})
    return private, RSAKey.import_key(private.as_dict(private=False))


def _kept_since():
    """Keys retired before this moment are no longer published."""
    return utcnow() - timedelta(seconds=current_app.config["OIDC_KEY_KEEP_S"])


def published():
    """The keys a client may meet: the current one and those retired less than OIDC_KEY_KEEP_S ago."""
    cutoff = _kept_since()
    current()
    return db.session.scalars(
        db.select(SigningKey)
        .where(db.or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff))
        .order_by(SigningKey.id.desc())
    ).all()


def jwks():
    """The JWKS document: public halves only."""
    return KeySet([as_jwk(key) for key in published()]).as_dict(private=False)


def forget_old():
    """Delete keys no longer published; how many."""
    old = db.session.scalars(db.select(SigningKey).where(SigningKey.retired_at <= _kept_since())).all()
    for key in old:
        db.session.delete(key)
    db.session.commit()
    return len(old)
