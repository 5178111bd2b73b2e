"""Service tasks: sync one grant with its outside system; expire grants by hand on time."""

import logging

from flask import current_app
from redis.exceptions import RedisError

from app.access import guard
from app.access.models import Grant
from app.access.reconcile import (
    reconcile_user,
    reconcile_user_grants,
    users_owing_grants,
    users_whose_state_lapses,
    users_with_expired_grants,
)
from app.accounts.models import User
from app.clock import utcnow
from app.extensions import db
from app.jobs import markers
from app.jobs.connection import get_redis
from app.jobs.locks import TargetLock
from app.jobs.outcome import WAIT
from app.services.sync import grants_to_resync, sync_grant
from tasks import PRIORITY_DEFAULT, app_task, notices, worker_name
from tasks.errors import TaskArgumentError, checked_id
from tasks.outcomes import follow

log = logging.getLogger(__name__)

SYNC = "services.sync"


@app_task(name="services.sync", target="grant", context=True)
def sync(grant_id, attempt=1, waiting_since=None, task=None):
    """Tell a grant's outside system what the grant is now; retries with power-law backoff."""
    grant_id = checked_id(grant_id, "grant_id")
    attempt = checked_id(attempt, "attempt")
    if waiting_since is not None and not isinstance(waiting_since, int | float):
        raise TaskArgumentError(f"waiting_since must be a time in seconds, got {waiting_since!r}")
    redis = get_redis()
    markers.clear(redis, SYNC, grant_id)  # a change from now on queues another sync
    lock = TargetLock(redis, f"grant:{grant_id}", worker_name(task), ttl=60)
    held, wait = lock.acquire()
    if not held:
        sync.schedule(args=(grant_id,), kwargs={"attempt": attempt}, delay=wait, priority=task.priority)
        return "locked"
    try:
        outcome = sync_grant(grant_id, attempt, waiting_since)
    finally:
        lock.release()
    log.debug(
        "task %s services.sync(%s) attempt %s: %s %s",
        task.id,
        grant_id,
        attempt,
        outcome.action,
        outcome.message,
    )

    def again(next_attempt, outcome):
        markers.renew(redis, SYNC, grant_id)  # on its way: no other sync of it is queued meanwhile
        kwargs = {"attempt": next_attempt}
        if outcome.action == WAIT:
            kwargs["waiting_since"] = outcome.waiting_since
        sync.schedule(args=(grant_id,), kwargs=kwargs, delay=outcome.delay, priority=task.priority)

    return follow(task, outcome, attempt, again)


def enqueue_sync(grant_id, priority=PRIORITY_DEFAULT):
    """Queue a grant's sync unless one is queued already."""
    if markers.claim(get_redis(), SYNC, grant_id):
        sync(grant_id, priority=priority)


def queue_follow_up(follow_up):
    """Queue what a committed change to access calls for: syncs, grants looked at again when they
    expire or their grace period ends, and the direct messages of notices.

    A Redis outage leaves the syncs to services.resync and the expiries to services.expire; the
    notices still show in the app.
    """
    for grant_id in follow_up.syncs:
        try:
            enqueue_sync(grant_id)
        except RedisError as exc:
            log.warning("could not queue the sync of grant %s now: %s", grant_id, exc)
    for grant_id, moment in follow_up.expiries:
        try:
            expire_grant.schedule(args=(grant_id,), eta=moment)
        except RedisError as exc:
            log.warning("could not schedule the expiry of grant %s: %s", grant_id, exc)
    for notice_id in follow_up.messages:
        try:
            notices.message.schedule(args=(notice_id,), delay=current_app.config["NOTICE_DM_DELAY"])
        except RedisError as exc:
            log.warning("could not queue the direct message of notice %s: %s", notice_id, exc)
    for notice_id, moment in follow_up.reminders:
        try:
            notices.message.schedule(args=(notice_id,), kwargs={"stage": "reminder"}, eta=moment)
        except RedisError as exc:
            log.warning("could not schedule the reminder of notice %s: %s", notice_id, exc)


@app_task(name="services.expire", context=True)
def expire(task=None):
    """Grants whose time or grace period is up, removals the incident guard held once it has
    closed, and users whose changed state still owes their grants a look, are reconciled (a grant
    by hand ends unless the policy gives the service anyway)."""
    done = 0
    guard.review()  # the incident guard closes once the recent window looks normal
    # A state changed since the user's grants were reconciled: the reconciliation its verdict
    # queued was lost (with Redis, say); the database still knows it is owed.
    owed = set(users_with_expired_grants()) | set(guard.users_with_held_grants()) | set(users_owing_grants())
    for user_id in users_whose_state_lapses():  # the grace of an invalid main key is over
        queue_follow_up(reconcile_user(user_id).follow_up)
    for user_id in sorted(owed):
        user = db.session.get(User, user_id)
        if user is not None:
            follow_up = reconcile_user_grants(user)
            queue_follow_up(follow_up)
            done += len(follow_up.syncs)
    if done:
        log.info("task %s services.expire: %s grants changed", task.id, done)
    return done


@app_task(name="services.expire_grant", target="grant", context=True)
def expire_grant(grant_id, task=None):
    """A grant's time is up (a grant by hand expires, a grace period ends): reconcile its user's
    grants now."""
    grant = db.session.get(Grant, checked_id(grant_id, "grant_id"))
    if grant is None:
        return "gone"
    due = [t for t in (grant.expires_at, grant.ends_at) if t is not None]
    if due and min(due) > utcnow():  # woken a little early: the grant's own time decides
        expire_grant.schedule(args=(grant.id,), eta=min(due))
        return "early"
    follow_up = reconcile_user_grants(grant.user)
    queue_follow_up(follow_up)
    return len(follow_up.syncs)


@app_task(name="services.resync")
def resync():
    """Queue syncs that should have happened by now (a sync lost with Redis, say)."""
    grant_ids = grants_to_resync()
    for grant_id in grant_ids:
        enqueue_sync(grant_id)
    if grant_ids:
        log.info("services.resync: %s grants queued again", len(grant_ids))
    return len(grant_ids)
