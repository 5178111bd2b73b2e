"""Access tasks: reconcile a user's state and grants after keys or affiliations change."""

import logging

from app.corps import affiliation
from app.jobs import markers
from app.jobs.connection import get_redis
from app.services.policy import any_service
from app.services.reconcile import reconcile_user
from tasks import PRIORITY_DEFAULT, app_task
from tasks.errors import checked_id

log = logging.getLogger(__name__)

RECONCILE = "access.reconcile"


@app_task(name="access.reconcile", target="user", context=True)
def reconcile(user_id, task=None):
    """Bring one user's state and grants in line with their main character (idempotent)."""
    user_id = checked_id(user_id, "user_id")
    markers.clear(get_redis(), RECONCILE, user_id)
    state = reconcile_user(user_id)
    log.debug("task %s access.reconcile(%s): %s", task.id, user_id, state)
    return state


def enqueue_reconcile(user_id, priority=PRIORITY_DEFAULT):
    """Queue a user's reconciliation unless it is queued already."""
    if markers.claim(get_redis(), RECONCILE, user_id):
        reconcile(user_id, priority=priority)


def after_check(verdict):
    """A key changed: its user is reconciled (if the check did not already), and the character's
    affiliation is confirmed soon unless it was confirmed lately."""
    if not verdict.changed or verdict.user_id is None:
        return
    if not verdict.reconciled or any_service():  # the check settled the state; grants follow here
        enqueue_reconcile(verdict.user_id)
    if verdict.character_id is not None and verdict.affiliation_stale:
        from tasks.corps import schedule_affiliation

        schedule_affiliation(affiliation.gather([verdict.character_id]))


@app_task(name="access.reconcile_all")
def reconcile_all():
    """A policy changed: queue the reconciliation of every active user."""
    from app.accounts.models import User
    from app.extensions import db

    user_ids = db.session.scalars(db.select(User.id).where(User.is_active_account.is_(True))).all()
    db.session.commit()
    for user_id in user_ids:
        enqueue_reconcile(user_id)
    return len(user_ids)
