"""The keys that sign ID tokens, and the JWKS clients check them with.

A new key is published first and signs only OIDC_KEY_PUBLISH_S later, since sites cache the JWKS
(openid-client, mod_auth_openidc): a token signed by a key their copy lacks is refused. When the
signing key is older than OIDC_KEY_ROTATE_DAYS, the next one is published (``flask oidc
rotate-key`` does it at once; with ``--now`` it also signs at once, for a key that leaked). The
newest key whose time has come signs; the one before is retired then and stays in the JWKS for
OIDC_KEY_KEEP_S more seconds, so tokens it signed, and clients' cached copies, keep working.
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


def rotate(now=False):
    """Publish a new signing key, which signs once OIDC_KEY_PUBLISH_S has passed (now=True: at once,
    and the keys before it are retired now); the new key's kid."""
    moment = utcnow()
    key = _new_key()
    if not now:
        key.signs_at = moment + timedelta(seconds=current_app.config["OIDC_KEY_PUBLISH_S"])
    else:
        for old in _live():
            old.retired_at = moment
    db.session.add(key)
    db.session.commit()
    return key.kid


def _live():
    """Keys not retired, newest first (the next one may not sign yet)."""
    return db.session.scalars(
        db.select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.id.desc())
    ).all()


def current():
    """The key that signs now: the newest whose time has come (the ones before it are retired);
    the first key is made here, and the next is published when this one is due to turn over."""
    now = utcnow()
    live = _live()
    signing = [key for key in live if key.signs_from <= now]
    if not signing:
        rotate(now=True)
        return current()
    key, older = signing[0], signing[1:]
    if older:
        for old in older:
            old.retired_at = key.signs_from
        db.session.commit()
    waiting = len(live) > len(signing)
    if not waiting and key.signs_from < now - timedelta(days=current_app.config["OIDC_KEY_ROTATE_DAYS"]):
        rotate()
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


def verified_claims(token, issuer):
    """The claims of an ID token Bastion signed with a key it still publishes, whatever its age
    (an id_token_hint may have expired); None for anything else."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        decoded = jwt.decode(token or "", KeySet([as_jwk(key) for key in published()]), [ALGORITHM])
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    return claims if claims.get("iss") == issuer and claims.get("sub") else None
