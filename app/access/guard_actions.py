"""What the incident guard holds (app/access/guard.py), as an admin sees it, and what they may do
with it: apply it (the removals were real), discard it (they were spurious), or have every held
key re-checked now."""

import logging
import time

from flask import current_app
from sqlalchemy import func, update

from app.access.guard import KINDS
from app.access.models import Grant
from app.access.state import reconcile_states
from app.audit import record
from app.clock import utcnow
from app.corps.directors import drop_director_roles
from app.extensions import db, write_transaction
from app.jobs import redis_keys
from app.jobs.connection import get_redis
from app.keys.models import Key

log = logging.getLogger(__name__)


def _reset(kinds, applied=False):
    """Empty the kinds' windows and close them; applied: keep them closed for one window."""
    until = time.time() + current_app.config["GUARD_WINDOW"]
    pipe = get_redis().pipeline()
    for kind in kinds:
        pipe.delete(redis_keys.guard_events(kind, False), redis_keys.guard_events(kind, True))
        pipe.hdel(redis_keys.GUARD_STATE, f"{kind}:since", f"{kind}:detail")
        if applied:  # the admin said these removals are real: the window starts again, closed
            pipe.hset(redis_keys.GUARD_STATE, f"{kind}:applied_until", until)
    pipe.execute()


def apply(actor):
    """The removals are real: every held verdict is recorded, every held removal may happen, held
    characters are looked up again at once. Returns (keys, grants, characters, users to reconcile)."""
    now = utcnow()
    held = db.session.scalars(db.select(Key).where(Key.held_at.is_not(None))).all()
    users = set()
    with write_transaction() as session:
        for key in held:
            key.status, key.reason = "invalid", key.held_reason
            key.held_reason = key.held_at = None
            users.add(key.user_id)
        session.flush()
        grants = session.scalars(db.select(Grant).where(Grant.held_at.is_not(None))).all()
        for grant in grants:
            grant.held_reason = grant.held_at = None
            users.add(grant.user_id)
        if held:
            reconcile_states(session.connection(), sorted({k.user_id for k in held}), now)
        applied = f"applied {len(held)} held verdicts and {len(grants)} held removals"
        record("guard.apply", actor, target_type="guard", detail=applied)
    drop_director_roles([k.character_id for k in held], "the key of its Director character is invalid")
    characters = _take_held_characters()
    _reset(KINDS, applied=True)
    log.warning(
        "incident guard: %s applied %s verdicts and %s removals", actor.display_name, len(held), len(grants)
    )
    return len(held), len(grants), characters, sorted(users)


def discard(actor):
    """What is held was spurious: keys keep their status (checked again on their usual cadence),
    grants stay, characters keep their corporation until their next round. Returns the counts."""
    with write_transaction() as session:
        keys = session.execute(
            update(Key).where(Key.held_at.is_not(None)).values(held_reason=None, held_at=None)
        ).rowcount
        grants = session.execute(
            update(Grant).where(Grant.held_at.is_not(None)).values(held_reason=None, held_at=None)
        ).rowcount
        discarded = f"discarded {keys} held verdicts and {grants} held removals"
        record("guard.discard", actor, target_type="guard", detail=discarded)
    characters = len(_take_held_characters())
    _reset(KINDS)
    log.warning(
        "incident guard: %s discarded what was held (%s keys, %s grants)", actor.display_name, keys, grants
    )
    return keys, grants, characters


def recheck_now(actor):
    """Every held key is due now; held characters are looked up again. Returns their ids."""
    now = utcnow()
    with write_transaction() as session:
        key_ids = session.scalars(db.select(Key.id).where(Key.held_at.is_not(None))).all()
        session.execute(update(Key).where(Key.held_at.is_not(None)).values(next_check_at=now))
        record(
            "guard.recheck", actor, target_type="guard", detail=f"{len(key_ids)} held keys checked again now"
        )
    characters = sorted(int(c) for c in get_redis().smembers(redis_keys.GUARD_HELD_CHARACTERS))
    return key_ids, characters


def _take_held_characters():
    redis = get_redis()
    pipe = redis.pipeline()
    pipe.smembers(redis_keys.GUARD_HELD_CHARACTERS)
    pipe.delete(redis_keys.GUARD_HELD_CHARACTERS)
    members, _ = pipe.execute()
    return sorted(int(c) for c in members)


def next_recheck():
    """When the next held key is due again (None when none is held)."""
    return db.session.scalar(db.select(func.min(Key.next_check_at)).where(Key.held_at.is_not(None)))


def sample(limit=10):
    """A few held keys and grants, newest first, to show with their reasons."""
    keys = db.session.scalars(
        db.select(Key).where(Key.held_at.is_not(None)).order_by(Key.held_at.desc()).limit(limit)
    ).all()
    grants = db.session.scalars(
        db.select(Grant).where(Grant.held_at.is_not(None)).order_by(Grant.held_at.desc()).limit(limit)
    ).all()
    return keys, grants
