"""Counts for the admin dashboard, read with one grouped query each."""

from sqlalchemy import func

from app.accounts.models import STATES, User
from app.extensions import db
from app.keys.models import KEY_STATUSES, Key
from app.services.models import GRANT_STATUSES, AccessRequest, Grant, Service


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
        "pending_requests": db.session.scalar(
            db.select(func.count()).select_from(AccessRequest).where(AccessRequest.status == "pending")
        ),
        "keys": keys,
        "keys_total": sum(keys.values()),
        "users": users,
        "users_total": sum(users.values()),
    }
