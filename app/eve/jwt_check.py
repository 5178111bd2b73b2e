"""Verify EVE SSO access tokens: RS256 only, a known kid, issuer, audience, expiry."""

import threading
import time

import jwt
from jwt import PyJWK

from app.eve.errors import InvalidToken

EVE_AUDIENCE = "EVE Online"
JWKS_MIN_REFETCH_S = 60


def accepted_issuers(issuer):
    """EVE names its issuer both with and without the scheme; accept both forms."""
    issuer = issuer.rstrip("/")
    bare = issuer.split("://", 1)[-1]
    return {issuer, bare, f"https://{bare}"}


class JwksCache:
    """The SSO's signing keys, fetched once and again only for an unknown kid (at most once a minute)."""

    def __init__(self, fetch):
        self._fetch = fetch
        self._keys = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def knows(self, kid):
        """True when the key with this kid is already loaded."""
        with self._lock:
            return kid in self._keys

    def key(self, kid):
        """The public key with this kid, refetching the set once when it is unknown."""
        with self._lock:
            stale = not self._fetched_at or time.monotonic() - self._fetched_at > JWKS_MIN_REFETCH_S
            if kid not in self._keys and stale:
                self._load()
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken(f"unknown signing key {kid!r}")
        return found

    def _load(self):
        data = self._fetch()
        keys = {}
        for entry in data.get("keys", []):
            if entry.get("alg") == "RS256" and entry.get("kid"):
                keys[entry["kid"]] = PyJWK(entry, algorithm="RS256").key
        self._keys = keys
        self._fetched_at = time.monotonic()


def verify_access_token(token, jwks, client_id, issuer, leeway=5):
    """Check an access token and return its claims, with ``scp`` as a list and ``character_id``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    if header.get("alg") != "RS256":
        raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
    key = jwks.key(header.get("kid"))
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=client_id,
            options={"require": ["exp", "iss", "sub", "aud"], "verify_iss": False},
            leeway=leeway,
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(str(exc)) from None
    if claims["iss"] not in accepted_issuers(issuer):
        raise InvalidToken(f"issuer {claims['iss']!r} is not EVE SSO")
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if EVE_AUDIENCE not in audience:
        raise InvalidToken("audience does not include 'EVE Online'")
    subject = claims["sub"]
    prefix = "CHARACTER:EVE:"
    if not subject.startswith(prefix) or not subject[len(prefix) :].isdigit():
        raise InvalidToken(f"subject {subject!r} is not a character")
    scopes = claims.get("scp", [])
    claims["scp"] = [scopes] if isinstance(scopes, str) else list(scopes)
    claims["character_id"] = int(subject[len(prefix) :])
    return claims
