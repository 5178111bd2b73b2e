"""Tracking tokens: a director's key that may read their corporation's members.

A tracking token is a key like any other (validated, refreshed and locked the same way); each
check that finds it valid keeps its fresh access token in Redis, encrypted, until shortly before
it expires, and the roster reads members with it. So the roster never refreshes a token itself.
"""

import contextlib
import logging
import time

from redis.exceptions import RedisError

from app import crypto
from app.audit import record
from app.clock import utcnow
from app.compliance.models import TrackingToken
from app.corps.models import Character
from app.extensions import db
from app.jobs import redis_keys
from app.jobs.connection import get_redis
from app.keys.models import Key

log = logging.getLogger(__name__)

MEMBERSHIP_SCOPE = "esi-corporations.read_corporation_membership.v1"
TRACKING_SCOPE = "esi-corporations.track_members.v1"
SAFETY_S = 60  # an access token is not used in its last minute


class TokenRefused(Exception):
    """A tracking token cannot be added; the message says why, for the director."""


def remember_access(key_id, access_token, claims):
    """Keep a key's fresh access token when its grant reads corporation membership; True when kept.
    Redis trouble only costs the reading a key check."""
    if MEMBERSHIP_SCOPE not in claims.get("scp", ()):
        return False
    ttl = int(float(claims.get("exp") or 0) - time.time()) - SAFETY_S
    if ttl <= 0:
        return False
    try:
        get_redis().set(redis_keys.tracking_access(key_id), crypto.encrypt(access_token), ex=ttl)
    except RedisError as exc:
        log.warning("access token of key %s not kept: %s", key_id, exc)
        return False
    return True


def access_token(key_id):
    """The key's kept access token, or None (then a check of the key brings a fresh one)."""
    try:
        stored = get_redis().get(redis_keys.tracking_access(key_id))
        return crypto.decrypt(stored.decode() if isinstance(stored, bytes) else stored) if stored else None
    except (RedisError, crypto.DecryptionError) as exc:
        log.warning("access token of key %s unreadable: %s", key_id, exc)
        return None


def forget_access(key_id):
    """Drop a kept access token (ESI refused it)."""
    with contextlib.suppress(RedisError):
        get_redis().delete(redis_keys.tracking_access(key_id))


def add_token(user, key, corporation, granted_scopes):
    """Make a director's freshly registered key a tracking token of a corporation they direct;
    committed by the caller."""
    if MEMBERSHIP_SCOPE not in granted_scopes:
        raise TokenRefused(
            "EVE did not grant the corporation membership scope; approve every scope on EVE's page."
        )
    character = db.session.get(Character, key.character_id)
    if character.corporation_id != corporation.id:
        raise TokenRefused(
            f"{character.name} is not in {corporation.name}: a tracking token must be a character of "
            "the corporation. Add one of your characters that is in it."
        )
    token = db.session.scalar(db.select(TrackingToken).filter_by(key_id=key.id))
    if token is None:
        token = TrackingToken(key_id=key.id, corporation_id=corporation.id, added_by_id=user.id)
        db.session.add(token)
    token.tracks_members = TRACKING_SCOPE in granted_scopes
    token.added_at, token.error, token.error_at = utcnow(), None, None
    record(
        "tracking.add",
        actor=user,
        target_type="corporation",
        target_id=corporation.id,
        detail=f"{character.name} ({character.id})"
        + (" with member tracking" if token.tracks_members else ""),
    )
    return token


def remove_token(token, actor):
    """Stop using a key as a tracking token (the key stays); committed by the caller."""
    record(
        "tracking.remove",
        actor=actor,
        target_type="corporation",
        target_id=token.corporation_id,
        detail=f"{token.key.character.name} ({token.key.character_id})",
    )
    forget_access(token.key_id)
    db.session.delete(token)


def tokens_of(corporation_id):
    """The corporation's tracking tokens with their keys, the working ones first."""
    tokens = db.session.scalars(
        db.select(TrackingToken)
        .join(Key, Key.id == TrackingToken.key_id)
        .where(TrackingToken.corporation_id == corporation_id)
        .order_by(TrackingToken.id)
    ).all()
    return sorted(tokens, key=lambda t: (not healthy(t), t.id))


def healthy(token):
    """The token's key is not invalid and ESI did not refuse it the last time."""
    return token.key.status != "invalid" and token.error is None


def health(token):
    """What a director reads about a tracking token: (ok, words)."""
    key = token.key
    if key.status == "invalid":
        return False, f"invalid: {key.reason or 'EVE refused the key'}"
    if token.error:
        return False, f"refused by ESI: {token.error}"
    if key.status == "error":
        return False, f"EVE did not answer its last check: {key.reason or ''}".strip()
    if key.status == "pending":
        return True, "being checked"
    return True, "working"
