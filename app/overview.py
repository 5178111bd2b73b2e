"""The domain overview: what the work is about, for the pages above the areas.

Counts of keys, users and grants for the dashboard and ``/metrics``, and the names of the things
tasks and audit entries point at. It reads every area's models, so it sits above them, beside the
pages that read it (the queue's own figures are app/jobs/monitor.py's, which imports no area and
is handed ``names_of`` to name what a task works on).
"""

from sqlalchemy import func

from app.access.models import GRANT_STATUSES, AccessRequest, Grant
from app.accounts.models import STATES, User
from app.audit import target_name
from app.corps.models import Character, Corporation
from app.extensions import db
from app.keys.models import KEY_STATUSES, Key
from app.services.models import Service

NAMED_KINDS = ("key", "user", "grant", "corporation")


def names_of(pairs):
    """What the (kind, id) targets are called, looked up at once per kind: {(kind, id): name}.

    Keys are named after their character, corporations by name; users and grants as the audit log
    names them. Ids are
    strings as targets carry them; other kinds, and ids that are not 64-bit numbers, are left out.
    """
    ids = {}
    for kind, ident in pairs:
        ident = ident or ""
        if kind in NAMED_KINDS and ident.isdigit() and len(ident) < 19:
            ids.setdefault(kind, set()).add(int(ident))
    names = {}
    if ids.get("key"):
        rows = db.session.execute(
            db.select(Key.id, Character.name)
            .join(Character, Character.id == Key.character_id)
            .where(Key.id.in_(ids["key"]))
        )
        names.update({("key", str(key_id)): name for key_id, name in rows})
    if ids.get("corporation"):
        rows = db.session.execute(
            db.select(Corporation.id, Corporation.name).where(Corporation.id.in_(ids["corporation"]))
        )
        names.update({("corporation", str(corporation_id)): name for corporation_id, name in rows})
    for kind, model in (("user", User), ("grant", Grant)):
        if ids.get(kind):
            for found in db.session.scalars(db.select(model).where(model.id.in_(ids[kind]))):
                names[(kind, str(found.id))] = target_name(found)
    return names


def _grouped(column, names):
    """Counts of rows by a column's value, with a zero for every known value."""
    counts = dict.fromkeys(names, 0)
    for value, count in db.session.execute(db.select(column, func.count()).group_by(column)):
        counts[value] = count
    return counts


def overview():
    """Keys by status, users by state, grants by status, failed syncs and waiting requests."""
    keys = _grouped(Key.status, KEY_STATUSES)
    users = _grouped(User.state, STATES)
    grants = _grouped(Grant.status, GRANT_STATUSES)
    return {
        "grants": grants,
        "services": db.session.scalar(db.select(func.count()).select_from(Service)),
        "failed_syncs": db.session.scalar(
            db.select(func.count()).select_from(Grant).where(Grant.sync_status == "failed")
        ),
        "held_syncs": db.session.scalar(
            db.select(func.count())
            .select_from(Grant)
            .where(Grant.sync_status == "pending", Grant.sync_wait == "service")
        ),
        "grants_ending": db.session.scalar(
            db.select(func.count()).select_from(Grant).where(Grant.ends_at.is_not(None))
        ),
        "pending_requests": db.session.scalar(
            db.select(func.count()).select_from(AccessRequest).where(AccessRequest.status == "pending")
        ),
        "keys": keys,
        "keys_total": sum(keys.values()),
        "users": users,
        "users_total": sum(users.values()),
    }
