"""Access tasks: reconcile a user's state and grants after keys or affiliations change."""

import logging

from app.access.reconcile import active_user_ids, reconcile_user
from app.jobs import markers
from app.jobs.connection import get_redis
from tasks import PRIORITY_DEFAULT, app_task
from tasks.errors import checked_id
from tasks.services import queue_follow_up

log = logging.getLogger(__name__)

RECONCILE = "access.reconcile"


@app_task(name="access.reconcile", target="user", context=True)
def reconcile(user_id, task=None):
    """Bring one user's state and grants in line with their main character (idempotent)."""
    user_id = checked_id(user_id, "user_id")
    markers.clear(get_redis(), RECONCILE, user_id)
    state, follow_up = reconcile_user(user_id)
    queue_follow_up(follow_up)
    log.debug("task %s access.reconcile(%s): %s", task.id, user_id, state)
    return state


def enqueue_reconcile(user_id, priority=PRIORITY_DEFAULT):
    """Queue a user's reconciliation unless it is queued already."""
    if markers.claim(get_redis(), RECONCILE, user_id):
        reconcile(user_id, priority=priority)


@app_task(name="access.reconcile_all")
def reconcile_all():
    """A policy changed: queue the reconciliation of every active user."""
    user_ids = active_user_ids()
    for user_id in user_ids:
        enqueue_reconcile(user_id)
    return len(user_ids)
