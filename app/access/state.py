"""A user's state (member, blue or guest) from their main character's key and affiliation.

The state is written with plain SQL so that it can be reconciled inside the transaction that
records a key's verdict (app/keys/validation.py); grants follow from it in app/access/reconcile.py.
"""

import functools
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.audit import AuditEntry
from app.clock import utcnow
from app.corps.models import Alliance, Character, Corporation
from app.keys.models import REASON_SOLD, Key

# A main character's key proves the affiliation only in these statuses ("error" keeps the last verdict).
PROVING_STATUSES = ("valid", "error")


def standing_status(key_status, key_source):
    """The status a key stands on: a key imported from another system (Alliance Auth) and not yet
    checked here keeps the verdict that system held, so members keep their state across the move
    until the first sweep (the incident guard watches that sweep like any other)."""
    if key_status == "pending" and key_source not in (None, "sso"):
        return "error"
    return key_status


def within_grace(reason, checked_at, now, grace):
    """True while a main key's invalid verdict still waits out the grace period before it moves the
    member's state (as the grants wait for a key's cause): a sold character acts at once."""
    return reason != REASON_SOLD and checked_at is not None and now - checked_at < grace


def state_from(key_status, corporation_tracking, alliance_tracking):
    """member, blue or guest, from the main key's status and the tracking of its corp and alliance."""
    if key_status not in PROVING_STATUSES:
        return "guest"
    tracked = {corporation_tracking, alliance_tracking}
    if "hostile" in tracked:  # a main in a hostile corporation or alliance counts for nothing
        return "guest"
    if "member" in tracked:
        return "member"
    if "blue" in tracked:
        return "blue"
    return "guest"


@functools.cache
def _standing_query():
    """Each user's state, main key status and the tracking of the main's corp and alliance (built once)."""
    users, chars, keys = User.__table__, Character.__table__, Key.__table__
    corps, alliances = aliased(Corporation.__table__), aliased(Alliance.__table__)
    return (
        select(
            users.c.id,
            users.c.state,
            keys.c.status,
            keys.c.source,
            keys.c.reason,
            keys.c.last_checked_at,
            corps.c.tracked_as,
            alliances.c.tracked_as,
        )
        .select_from(users)
        .outerjoin(chars, chars.c.id == users.c.main_character_id)
        .outerjoin(keys, keys.c.character_id == chars.c.id)
        .outerjoin(corps, corps.c.id == chars.c.corporation_id)
        .outerjoin(alliances, alliances.c.id == chars.c.alliance_id)
        .where(users.c.id.in_(bindparam("user_ids", expanding=True)))
    )


def reconcile_states(conn, user_ids, now=None):
    """Reconcile users' states on an open connection (inside the caller's transaction); {user_id: state}."""
    now = now or utcnow()
    rows = conn.execute(_standing_query(), {"user_ids": list(user_ids)}).all()
    states, changes, audit, unchanged = {}, [], [], []
    grace = timedelta(seconds=current_app.config["ACCESS_GRACE"])
    for (
        user_id,
        current,
        key_status,
        key_source,
        reason,
        checked_at,
        corp_tracking,
        alliance_tracking,
    ) in rows:
        key_status = standing_status(key_status, key_source)
        if key_status == "invalid" and current != "guest" and within_grace(reason, checked_at, now, grace):
            key_status = "error"  # the verdict alone waits out the grace, as the grants do
        state = state_from(key_status, corp_tracking, alliance_tracking)
        states[user_id] = state
        if state == current:
            unchanged.append(user_id)
        else:
            changes.append({"uid": user_id, "state": state})
            audit.append(
                {
                    "created_at": now,
                    "action": "user.state",
                    "target_type": "user",
                    "target_id": str(user_id),
                    "detail": f"{current} -> {state}",
                }
            )
    if changes:  # a changed state is stamped reconciled in the same statement
        conn.execute(_SET_STATE, [{**change, "at": now} for change in changes])
        conn.execute(_AUDIT, audit)
    if unchanged:
        conn.execute(_RECONCILED, {"ids": unchanged, "at": now})
    return states


# Built once: a statement made afresh on every call costs SQLAlchemy its cache key each time.
_USERS = User.__table__
_SET_STATE = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("uid"))
    .values(state=bindparam("state"), state_changed_at=bindparam("at"), reconciled_at=bindparam("at"))
)
_AUDIT = insert(AuditEntry.__table__)
_RECONCILED = (
    update(_USERS)
    .where(_USERS.c.id.in_(bindparam("ids", expanding=True)))
    .values(reconciled_at=bindparam("at"))
)
