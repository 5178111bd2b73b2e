"""Corporation and character tasks: affiliation rounds and name refreshes."""

import logging

from flask import current_app

from app.corps import affiliation
from app.corps.refresh import refresh_due
from app.jobs import markers
from app.jobs.connection import get_redis
from app.jobs.locks import TargetLock
from tasks import PRIORITY_DEFAULT, app_task, worker_name
from tasks.access import enqueue_reconcile

log = logging.getLogger(__name__)

ROUND = "chars.affiliation_round"
ROUND_LOCK_TTL = 30


def schedule_affiliation(waiting=None):
    """Make sure a round will run: now for a full batch, else once the oldest has waited long enough."""
    redis = get_redis()
    config = current_app.config
    waiting = affiliation.pending_count() if waiting is None else waiting
    if waiting >= config["AFFILIATION_BATCH"]:
        if markers.claim(redis, ROUND, "full", ttl=300):
            affiliation_round("full", priority=PRIORITY_DEFAULT)
    elif markers.claim(redis, ROUND, "timer", ttl=int(config["AFFILIATION_MAX_WAIT"] * 4) + 60):
        affiliation_round.schedule(
            args=("timer",), delay=config["AFFILIATION_MAX_WAIT"], priority=PRIORITY_DEFAULT
        )


@app_task(name="chars.affiliation_round", context=True)
def affiliation_round(trigger="timer", task=None):
    """Ask ESI where up to one batch of characters is; reconcile users whose character moved."""
    if trigger not in ("full", "timer"):
        raise ValueError(f"trigger must be 'full' or 'timer', got {trigger!r}")
    config = current_app.config
    redis = get_redis()
    # A short TTL, extended with every ESI call of the round: a round killed mid-way frees the
    # next one within seconds, and its ids come back through affiliation.put_back_abandoned.
    lock = TargetLock(redis, "affiliation-round", worker_name(task), ttl=ROUND_LOCK_TTL)
    acquired, wait = lock.acquire()
    if not acquired:  # one round at a time, so no round takes a part of another's batch
        affiliation_round.schedule(args=(trigger,), delay=min(wait, 5.0), priority=task.priority)
        return "another round is running"
    try:
        return _round(trigger, task, config, redis, lock)
    finally:
        lock.release()


def _round(trigger, task, config, redis, lock):
    if trigger == "timer":
        waited = affiliation.oldest_wait()
        if waited is None:
            markers.clear(redis, ROUND, "timer")
            return "nothing waits"
        if waited < config["AFFILIATION_MAX_WAIT"]:
            affiliation_round.schedule(
                args=("timer",), delay=config["AFFILIATION_MAX_WAIT"] - waited, priority=task.priority
            )
            return "waiting for more"
    result = affiliation.run_round(keep_alive=lock.extend)
    if result.wait:
        affiliation_round.schedule(args=(trigger,), delay=result.wait, priority=task.priority)
        return "waiting for ESI"
    for user_id in result.changed_users:
        enqueue_reconcile(user_id)
    log.info(
        "task %s chars.affiliation_round(%s): %s characters, %s calls, %s moved, bad ids %s",
        task.id,
        trigger,
        result.checked,
        result.calls,
        len(result.changed_users),
        result.bad_ids,
    )
    markers.clear(redis, ROUND, trigger)
    if affiliation.pending_count():
        schedule_affiliation()
    return result.checked


@app_task(name="chars.affiliation_sweep", context=True)
def affiliation_sweep(task=None):
    """Gather every character whose affiliation is older than the interval, and schedule rounds."""
    count = affiliation.gather_due()
    if count:
        schedule_affiliation()
    log.info("task %s chars.affiliation_sweep: %s characters gathered", task.id, count)
    return count


@app_task(name="corps.refresh", context=True)
def refresh(task=None):
    """Refresh expired corporation and alliance names and tickers."""
    refreshed, wait = refresh_due()
    if wait:
        refresh.schedule(delay=wait, priority=task.priority)
    log.info("task %s corps.refresh: %s refreshed", task.id, refreshed)
    return refreshed
