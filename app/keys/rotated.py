"""A key's refresh token as SSO rotated it, kept encrypted in Redis from the moment SSO answers
until the database has it: a database down at that moment, or a worker killed, costs no member a
re-authorisation, since the next run stores the kept token and goes on with it."""

import hashlib
import logging

from redis.exceptions import RedisError

from app import crypto
from app.extensions import db, write_transaction
from app.jobs import redis_keys
from app.jobs.connection import get_redis
from app.jobs.rounds import later
from app.keys.statements import SELECT_KEY, update_key

log = logging.getLogger(__name__)

ROTATED_TTL = 7 * 24 * 3600


def _fingerprint(ciphertext):
    """Which stored token a rotation replaced (a digest of its ciphertext, never the token)."""
    return hashlib.sha256(ciphertext.encode()).hexdigest()[:32]


def keep_rotated(row, tokens):
    """SSO answered: the old token is dead from now on. Keep the new one, encrypted, in Redis until
    the database has it, so a database down at this moment (or a worker killed) costs no member a
    re-authorisation. Redis down too: the claim and the doubt still protect the key. Returns the
    new token encrypted, as the database stores it."""
    encrypted = crypto.encrypt(tokens["refresh_token"])
    kept = f"{_fingerprint(row.refresh_token_encrypted)}:{encrypted}"
    try:  # with the check's next round trip, right after this (app/keys/roles.py: gate_roles)
        key = redis_keys.rotated_token(row.id)
        later(get_redis(), lambda batch: batch.command("set", key, kept, ex=ROTATED_TTL))
    except RedisError as exc:
        log.warning("key %s: the rotated token could not be kept in Redis: %s", row.id, exc)
    return encrypted


def adopt_rotated(row):
    """A run was cut off or failed after SSO rotated the key's token: when Redis kept the new token
    for the token stored, store it now (and free the claim) and go on with it; else the row as it is."""
    try:
        kept = get_redis().get(redis_keys.rotated_token(row.id))
    except RedisError:
        return row
    fingerprint, _, ciphertext = (kept or "").partition(":")
    if not ciphertext or fingerprint != _fingerprint(row.refresh_token_encrypted):
        return row
    with write_transaction() as session:
        update_key(
            session.connection(),
            row.id,
            {"refresh_token_encrypted": ciphertext, "refresh_started_at": None, "refresh_uncertain": False},
        )
    log.info("key %s: the token SSO rotated in an earlier run was stored from Redis", row.id)
    adopted = db.session.connection().execute(SELECT_KEY, {"key_id": row.id}).first()
    db.session.commit()
    return adopted or row
