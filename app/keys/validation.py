"""Validating one key: lock, permit, refresh (storing the rotated token at once), verify, compare.

Definitive failures (invalid_grant, owner hash changed, scopes lost) make a key invalid. Transient
ones (5xx, timeouts, 420, 429) never do: the task retries with power-law backoff and the last
verdict stands. A refresh cut off after SSO rotated the token (the worker was killed before the new
token was stored, or the answer timed out) is told apart by the claim it left on the key, or the
doubt recorded after a timeout: the member is asked to re-authorise, and keeps access meanwhile.

Every outside call happens outside a database transaction, so a slow upstream never holds a lock
on the database.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select, update

from app import crypto
from app.access import guard
from app.access.state import reconcile_states
from app.audit import record
from app.clock import utcnow
from app.compliance.tokens import remember_access
from app.corps.directors import drop_director_roles, reconcile_directorships, record_director_role
from app.eve import get_client
from app.eve.errors import ErrorLimited, EveError, InvalidClient, InvalidGrant, RateLimited
from app.extensions import db, write_transaction
from app.jobs.backoff import retry_delay
from app.jobs.connection import get_redis
from app.jobs.locks import TargetLock
from app.jobs.outcome import Outcome
from app.jobs.rounds import Batch, shared_round_trips
from app.jobs.setup import get_governor
from app.keys.cadence import next_check
from app.keys.claims import claim_clean, claim_refresh, release_claim, write_key
from app.keys.models import REASON_SOLD
from app.keys.roles import gate_roles, holds_director_role
from app.keys.rotated import adopt_rotated, keep_rotated
from app.keys.statements import KEYS, SELECT_KEY, update_key

log = logging.getLogger(__name__)

SLOT_TOLERANCE = 0.005  # a slot this close is "now"
STALE_SLOT = 2.0  # a slot this far in the past no longer counts as a reservation
UPSTREAM = "sso"
HELD = "held by the incident guard"

REASON_REVOKED = "EVE refused the refresh token: the grant was revoked or has expired."
REASON_OTHER_CHARACTER = "EVE answered with a token for another character."
REASON_REAUTH = (
    "The last check was cut off before EVE's new token was saved, so EVE no longer "
    "accepts the old one. Please add this character again to re-authorise it."
)
REASON_REAUTH_IMPORTED = (
    "EVE no longer accepts the token imported from Alliance Auth (Alliance Auth has probably "
    "refreshed it since). Please add this character again to re-authorise it."
)
REASON_REAUTH_EXPIRED = "The character was not re-authorised in time."


@dataclass
class Verdict(Outcome):
    """A key check's outcome: done, wait (not a failure), retry (a failure), give_up, or gone; with
    what changed, so that the task can queue what follows."""

    slot: float | None = None
    changed: bool = False
    reconciled: bool = False
    affiliation_stale: bool = False
    user_id: int | None = None
    character_id: int | None = None
    also_users: list = field(default_factory=list)  # others to reconcile (verdicts the guard took back)
    held_keys: list = field(default_factory=list)  # keys the guard holds now, to check again later


def validate_key(key_id, owner, attempt=1, slot=None, due_only=False, now_ts=None):
    """Check one key against EVE SSO and record the verdict; returns what the task should do next.

    due_only: skip a key that is no longer due (a sweep's run racing an on-demand check).
    """
    clock = time.time if now_ts is None else (lambda: now_ts)  # now_ts: a fixed moment, for tests
    now_ts = clock()
    if slot is not None and now_ts - slot > STALE_SLOT:
        slot = None  # a slot long past (the task was reaped or stuck): take a fresh one
    if slot is not None and now_ts < slot - SLOT_TOLERANCE:
        return Verdict("wait", delay=slot - now_ts, slot=slot)
    # A key as the last run left it (no claim, no doubt) is claimed as it is read, before the round
    # trip that takes the slot and the lock, so nothing but the decryption stands between that
    # last check of the rate and the call. One an earlier run left claimed or in doubt is claimed
    # under the lock, after what Redis kept of that run is adopted.
    row, clean = claim_clean(key_id), True
    if row is None:  # removed, not clean, or awaiting re-authorisation: read as it is
        row = db.session.connection().execute(SELECT_KEY, {"key_id": key_id}).first()
        db.session.commit()
        if row is None:
            return Verdict("gone", message="the key was removed")
        clean = row.refresh_started_at is None and not row.refresh_uncertain and not row.needs_reauth
        if clean:  # left clean between the two statements
            claimed, wait, _ = claim_refresh(row, current_app.config["LOCK_TTL"])
            if not claimed:
                return Verdict("wait", delay=wait, message="another run is refreshing this key")
    if due_only and attempt == 1 and row.next_check_at > utcnow():
        if clean:
            release_claim(row, False)
        return Verdict("done", message="checked meanwhile; not due")
    if row.needs_reauth:
        return _await_reauthorisation(row)
    governor, redis = get_governor(), get_redis()
    with shared_round_trips(redis):
        # One round trip, the last before the refresh goes out: the SSO slot (a fresh one, or the
        # gate for the slot this run holds) and the key's lock. A slot that is now passes the
        # gate in the same script.
        lock = TargetLock(redis, f"key:{key_id}", owner, ttl=current_app.config["LOCK_TTL"])
        batch = Batch(redis)
        # The gate counts the call from this moment, the last before it goes out, not from when
        # the run began: a run slowed on its way here (the database, a busy machine) would
        # otherwise reach the upstream later than the gate believes, bunched with later calls.
        now_ts = clock()
        governor.check_into(batch, UPSTREAM, now_ts, reserve=slot is None, pass_gate=SLOT_TOLERANCE)
        token = lock.acquire_into(batch)
        permit, taken = batch.send()
        acquired, lock_wait = lock.acquired(token, taken)
        try:
            verdict = _turned_away(governor.answer(permit), slot, now_ts, acquired, lock_wait)
            if verdict is not None:
                if clean:
                    release_claim(row, False)
                return verdict
            return _check(row, lock, attempt, clean)
        finally:
            if acquired:
                lock.release()


def _turned_away(permit, slot, now_ts, acquired, lock_wait):
    """The wait a run must make when the governor or the lock turns it away, else None."""
    reason, wait = permit
    if reason == "ok" and wait > SLOT_TOLERANCE:
        return Verdict("wait", delay=wait, slot=now_ts + wait, message="slot")
    if reason in ("rate", "gate") and (slot is not None or reason == "gate"):
        # A short wait at the gate keeps the run's turn: it comes back to the gate, not to the
        # end of the line.
        return Verdict("wait", delay=wait, slot=time.time() + wait, message=reason)
    if reason != "ok":
        return Verdict("wait", delay=wait, message=reason)
    if not acquired:
        return Verdict("wait", delay=lock_wait, message="locked")
    return None


def _check(row, lock, attempt, claimed):
    """The refresh and what follows, with the key locked (and claimed, when claimed)."""
    config = current_app.config
    client = get_client()
    cut_off = False
    if not claimed:
        row = adopt_rotated(row)  # an earlier run refreshed, then could not store the new token
        claimed, wait, cut_off = claim_refresh(row, config["LOCK_TTL"])
        if not claimed:
            return Verdict("wait", delay=wait, message="another run is refreshing this key")
    try:
        token = crypto.decrypt(row.refresh_token_encrypted)
    except crypto.DecryptionError as exc:
        release_claim(row, row.refresh_uncertain or cut_off)
        return Verdict("give_up", message=f"key {row.id}: {exc}")
    uncertain = row.refresh_uncertain or cut_off
    try:
        tokens = client.refresh(token)
        rotated = keep_rotated(row, tokens)
    except InvalidGrant:
        current = (
            db.session.connection()
            .execute(select(KEYS.c.refresh_token_encrypted).where(KEYS.c.id == row.id))
            .scalar()
        )
        db.session.commit()
        if current != row.refresh_token_encrypted:
            write_key(row.id, refresh_started_at=None)
            return Verdict("wait", delay=0.5, message="the token was rotated by another run meanwhile")
        if _imported_unconfirmed(row):
            return _refused_import(row)
        if uncertain:
            return _ask_reauthorisation(row)
        return _finish(row, "invalid", REASON_REVOKED)
    except InvalidClient as exc:
        release_claim(row, uncertain)
        return Verdict("give_up", message=f"EVE refused Bastion's client credentials: {exc}")
    except (RateLimited, ErrorLimited) as exc:
        # Answered with a limit: the token was not used.
        release_claim(row, uncertain)
        return Verdict("wait", delay=exc.wait_seconds(1.0), message=str(exc))
    except EveError as exc:
        # A timeout or 5xx may have come after SSO rotated the token: remember the doubt.
        write_key(row.id, refresh_started_at=None, refresh_uncertain=True)
        return _transient(row, attempt, exc)
    # The old token is dead from this moment: it is in Redis with the next round trip, at once
    # (the one that also asks ESI's gate for the roles call), and in the database before any
    # other outside call.
    try:
        roles_gated = gate_roles(row)
    except RedisError as exc:  # the database still gets the new token below
        log.warning("key %s: Redis failed right after the refresh: %s", row.id, exc)
        roles_gated = None
    new_token = {
        "refresh_token_encrypted": rotated,
        "refresh_started_at": None,
        "refresh_uncertain": False,
    }
    if not client.can_verify_offline(tokens["access_token"]):
        write_key(row.id, **new_token)  # verifying needs the SSO's keys first
        new_token = {}
        lock.extend()
    try:
        claims = client.verify(tokens["access_token"])
    except EveError as exc:
        if new_token:
            write_key(row.id, **new_token)
        return _transient(row, attempt, exc)
    if claims["character_id"] != row.character_id:
        return _finish(row, "invalid", REASON_OTHER_CHARACTER, new_token)
    if claims["owner"] != row.owner_hash:
        return _finish(row, "invalid", REASON_SOLD, new_token)
    required = set(config["EVE_SCOPES"]) & set(row.scopes.split())
    missing = sorted(required - set(claims["scp"]))
    if missing:
        return _finish(row, "invalid", "Scopes no longer granted: " + ", ".join(missing), new_token)
    director = holds_director_role(client, row, tokens["access_token"], claims["scp"], roles_gated)
    verdict = _finish(row, "valid", None, new_token)
    remember_access(row.id, tokens["access_token"], claims)  # a tracking token reads members with it
    if director is not None and (director or row.is_director):
        record_director_role(row.user_id, row.character_id, director)
    return verdict


def _finish(row, status, reason, extra=None, removes=None):
    """Record a verdict (with any other values for the key) and when to check again.

    A changed verdict reconciles the user's state in the same transaction. removes: whether the
    incident guard counts it as a key lost (by default, an invalid verdict).
    """
    removes = status == "invalid" if removes is None else removes
    now = utcnow()
    values = {
        "status": status,
        "reason": reason,
        "needs_reauth": False,
        "last_checked_at": now,
        "next_check_at": next_check(current_app.config, now),
        "consecutive_failures": 0,
        "error_since": None,
        "refresh_started_at": None,
        "refresh_uncertain": False,
    }
    if status == "valid":
        values["last_ok_at"] = now
    values.update(extra or {})
    values.update(held_reason=None, held_at=None)
    changed = status != row.status
    decision = guard.observe_check(row.id, changed and removes, row.status, director=bool(row.is_director))
    held = decision in ("hold", "opened")
    if held:  # the incident guard doubts it: the key keeps its status and is checked again soon
        for name in ("status", "reason", "consecutive_failures", "error_since", "needs_reauth"):
            values.pop(name)
        values.update(guard.hold_values(reason, now))
        changed = False
    with write_transaction() as session:
        conn = session.connection()
        update_key(conn, row.id, values)
        if changed:
            reconcile_states(conn, [row.user_id], now)
        if changed and status == "invalid":
            record("key.invalid", target_type="key", target_id=row.id, detail=reason)
        also, also_keys = guard.after_verdict(conn, row.id, decision, reason, now)
    if changed and removes and not held and guard.is_open("verdicts"):
        # The guard opened while this verdict was being written, too late to see it: take it back.
        with write_transaction() as session:
            guard.take_back(session.connection(), {row.id: row.status}, now)
        held = True
    if status == "invalid" and row.is_director and not held:
        drop_director_roles([row.character_id], "the key of its Director character is invalid")
    for user_id in also:  # verdicts the guard took back give back the directorships they took
        reconcile_directorships(user_id, "a verdict the incident guard took back")
    return Verdict(
        "done",
        changed=changed,
        reconciled=changed,
        user_id=row.user_id,
        character_id=row.character_id,
        affiliation_stale=_affiliation_stale(row, now),
        message=HELD if held else "",
        also_users=sorted(also - {row.user_id}),
        held_keys=[row.id, *also_keys] if held else [],
    )


def _affiliation_stale(row, now):
    """True when the character's corporation was not confirmed within the affiliation interval."""
    checked = row.affiliation_checked_at
    return checked is None or (now - checked).total_seconds() > current_app.config["AFFILIATION_INTERVAL"]


def _transient(row, attempt, exc):
    """EVE did not answer properly: the last verdict stands; retry later with backoff."""
    config = current_app.config
    now = utcnow()
    error_since = row.error_since or now
    status = row.status
    if status != "pending" and (now - error_since).total_seconds() > config["ERROR_GRACE"]:
        status = "error"
    delay = retry_delay(attempt, config["RETRY_BASE"], config["RETRY_CAP"])
    give_up = attempt >= config["VALIDATE_MAX_ATTEMPTS"]
    if give_up:
        delay = config["RETRY_CAP"]
    write_key(
        row.id,
        consecutive_failures=row.consecutive_failures + 1,
        error_since=error_since,
        status=status,
        reason=f"EVE did not answer properly ({exc}); checking again soon.",
        last_checked_at=now,
        next_check_at=now + timedelta(seconds=delay),
    )
    message = f"key {row.id}: {exc}"
    if give_up:
        return Verdict(
            "give_up",
            message=f"{message} (gave up after {attempt} attempts)",
            changed=status != row.status,
            user_id=row.user_id,
            character_id=row.character_id,
        )
    return Verdict(
        "retry",
        delay=delay,
        message=message,
        changed=status != row.status,
        user_id=row.user_id,
        character_id=row.character_id,
    )


def _imported_unconfirmed(row):
    """True for a key imported from another system that EVE has not accepted here yet."""
    return row.source != "sso" and row.last_ok_at is None


def _refused_import(row):
    """EVE refused an imported token before it ever worked here: the old system may have rotated it
    since, or it died long ago. The member is asked to re-authorise and keeps access for a grace
    period; the incident guard counts it like a key lost, so a database of dead tokens (or SSO
    misbehaving during the first sweep) is held for an admin instead."""
    now = utcnow()
    extra = {"needs_reauth": True, "error_since": row.error_since or now}
    verdict = _finish(row, "error", REASON_REAUTH_IMPORTED, extra, removes=True)
    if verdict.message != HELD:
        with write_transaction():
            record("key.reauth", target_type="key", target_id=row.id, detail="imported token refused")
    return verdict


def _ask_reauthorisation(row):
    """A cut-off refresh cost the token: ask the member to re-authorise; access stays for a grace period."""
    now = utcnow()
    with write_transaction() as session:
        session.connection().execute(
            update(KEYS)
            .where(KEYS.c.id == row.id)
            .values(
                status="error",
                needs_reauth=True,
                reason=REASON_REAUTH,
                refresh_started_at=None,
                refresh_uncertain=False,
                error_since=row.error_since or now,
                last_checked_at=now,
                next_check_at=next_check(current_app.config, now),
            )
        )
        record(
            "key.reauth",
            target_type="key",
            target_id=row.id,
            detail="refresh token lost to an interrupted check",
        )
    return Verdict("done", changed=row.status != "error", user_id=row.user_id, character_id=row.character_id)


def _await_reauthorisation(row):
    """No refresh is tried while re-authorisation is pending; past the grace period the key is invalid."""
    now = utcnow()
    since = row.error_since or now
    if (now - since).total_seconds() > current_app.config["REAUTH_GRACE"]:
        return _finish(row, "invalid", REASON_REAUTH_EXPIRED)
    write_key(row.id, next_check_at=next_check(current_app.config, now))
    return Verdict("done", user_id=row.user_id, character_id=row.character_id)
