"""Key tasks: validate one key, and the sweep that feeds validation."""

import contextlib
import logging
import random
import time

from flask import current_app
from redis.exceptions import RedisError

from app.access import guard_actions
from app.access.policy import any_service
from app.clock import utcnow
from app.corps import affiliation
from app.jobs import markers
from app.jobs.connection import get_redis
from app.jobs.locks import TargetLock
from app.jobs.outcome import RETRY, WAIT
from app.jobs.setup import get_governor
from app.keys import sweep as sweeping
from app.keys import validation
from tasks import PRIORITY_ON_DEMAND, PRIORITY_SWEEP, app_task, huey, worker_name
from tasks.access import enqueue_reconcile
from tasks.corps import schedule_affiliation
from tasks.errors import checked_id, is_blip
from tasks.outcomes import follow

log = logging.getLogger(__name__)

SWEEP_CONTINUE_S = 0.5
SWEEP = "keys.sweep"
SWEEP_LOCK = "sweep"
SWEEP_LOCK_TTL = 10


@app_task(name="keys.validate", target="key", context=True)
def validate(key_id, attempt=1, slot=None, task=None):
    """Check one key with EVE SSO; waits and retries reschedule this task instead of sleeping."""
    key_id = checked_id(key_id, "key_id")
    attempt = checked_id(attempt, "attempt")
    try:
        verdict = validation.validate_key(
            key_id, worker_name(task), attempt=attempt, slot=slot, due_only=task.priority == PRIORITY_SWEEP
        )
    except Exception as exc:
        with contextlib.suppress(Exception):
            if is_blip(exc):  # the run comes back (tasks/__init__.py): keep the key marked
                markers.renew(get_redis(), sweeping.VALIDATE, key_id)
            else:  # free the key for the next sweep
                markers.clear(get_redis(), sweeping.VALIDATE, key_id)
        raise
    log.debug(
        "task %s keys.validate(%s) attempt %s: %s %s",
        task.id,
        key_id,
        attempt,
        verdict.action,
        verdict.message,
    )

    def again(next_attempt, outcome):
        delay, slot = outcome.delay, outcome.slot if outcome.action == WAIT else None
        if outcome.action == WAIT and slot is None and delay > 1:
            # Waiting out a backoff or a pause: spread the wake-ups so they do not come back at once.
            delay += random.uniform(0, min(delay, 10.0))  # noqa: S311
        _again(task.priority, key_id, next_attempt, delay, slot)

    def settled(outcome):
        if outcome.action != RETRY:
            markers.clear(get_redis(), sweeping.VALIDATE, key_id)
        after_check(outcome)

    return follow(task, verdict, attempt, again, settled)


def after_check(verdict):
    """A key changed: its user is reconciled (if the check did not already), and the character's
    affiliation is confirmed soon unless it was confirmed lately."""
    for user_id in verdict.also_users:  # verdicts the incident guard took back
        enqueue_reconcile(user_id)
    if verdict.held_keys:  # held keys are due again after the guard's re-check time: a sweep then
        _sweep_for_held_keys(current_app.config["GUARD_RECHECK"] + 1.0)
    if not verdict.changed or verdict.user_id is None:
        return
    if not verdict.reconciled or any_service():  # the check reconciled the state; grants follow here
        enqueue_reconcile(verdict.user_id)
    if verdict.character_id is not None and verdict.affiliation_stale:
        schedule_affiliation(affiliation.gather([verdict.character_id]))


def _again(priority, key_id, attempt, delay, slot, renew=True):
    """Run a key's validation after a delay (at its reserved slot when it has one).

    renew: keep the key's queued marker fresh (not needed when it was claimed just now).
    """
    if renew:
        markers.renew(get_redis(), sweeping.VALIDATE, key_id)
    kwargs = {"attempt": attempt, "slot": slot}
    if delay <= 0.005:
        validate(key_id, priority=priority, **kwargs)
    else:
        validate.schedule(args=(key_id,), kwargs=kwargs, delay=delay, priority=priority)


def _queue_at_slot(key_id):
    """Reserve the key's SSO slot now and queue its validation for that moment; False without a slot."""
    reason, wait = get_governor().permit(validation.UPSTREAM)
    if reason != "ok":
        return False
    _again(PRIORITY_SWEEP, key_id, 1, wait, time.time() + wait, renew=False)  # the sweep just claimed it
    return True


def enqueue_validation(key_id, priority):
    """Queue a key unless it is queued already; True when it was queued now."""
    if not markers.claim(get_redis(), sweeping.VALIDATE, key_id):
        return False
    validate(key_id, priority=priority)
    return True


def queue_check(key_id):
    """Queue a key's validation at on-demand priority (a member's or director's click); False when
    one is queued already. When Redis cannot be reached the key simply waits for the sweep."""
    try:
        return enqueue_validation(key_id, PRIORITY_ON_DEMAND)
    except RedisError as exc:
        log.warning("could not queue a check of key %s now: %s", key_id, exc)
        return True


@app_task(name="keys.sweep", context=True)
def sweep(task=None):
    """Queue due keys up to the high-water mark; while more are due, run again shortly."""
    redis = get_redis()
    markers.clear(redis, SWEEP, "next")  # this run is the one that was scheduled
    lock = TargetLock(redis, SWEEP_LOCK, worker_name(task), ttl=SWEEP_LOCK_TTL)
    if not lock.acquire()[0]:
        # Another sweep runs, or one died holding the lock: look again soon, so the chain goes on.
        _sweep_again()
        return "another sweep is running"
    try:
        # Only key checks count against the sweep's room: syncs waiting out a service's backoff,
        # affiliation rounds and other work have their own pace and never starve the checks.
        depth = huey.waiting(validate)
        enqueued, more = sweeping.sweep(depth, _queue_at_slot)
    finally:
        lock.release()
    log.info("task %s keys.sweep: queued %s keys (more due: %s)", task.id, enqueued, more)
    if more:
        _sweep_again()
    return enqueued


def _sweep_for_held_keys(delay):
    """Schedule keys.recheck_held unless it is scheduled already."""
    if markers.claim(get_redis(), SWEEP, "recheck", ttl=int(delay) + 60):
        recheck_held.schedule(delay=delay, priority=PRIORITY_SWEEP)


@app_task(name="keys.recheck_held", context=True)
def recheck_held(task=None):
    """Keys the incident guard holds are due again: sweep now, and come back for the next ones."""
    markers.clear(get_redis(), SWEEP, "recheck")  # this run is the one that was scheduled
    sweep(priority=PRIORITY_SWEEP)
    due = guard_actions.next_recheck()
    if due is not None:
        _sweep_for_held_keys(max(2.0, (due - utcnow()).total_seconds() + 0.5))
    return "rechecking" if due is not None else "nothing held"


def _sweep_again():
    """Schedule the next sweep in a moment, unless one is scheduled already."""
    if markers.claim(get_redis(), SWEEP, "next", ttl=30):
        sweep.schedule(delay=SWEEP_CONTINUE_S, priority=PRIORITY_SWEEP)
