"""Operational tasks: the consumer heartbeat, the reaper, history pruning and alerts."""

import logging
import time
from datetime import timedelta

from flask import current_app
from huey import crontab

from app import alerts
from app.clock import utcnow
from app.corps import affiliation
from app.extensions import db
from app.jobs import deadstore, heartbeat, inflight, redis_keys
from app.jobs.connection import get_redis
from app.jobs.models import TaskRecord
from app.oidc.clients import prune as oidc_prune
from tasks import PRIORITY_ON_DEMAND, app_periodic_task, app_task, requeue
from tasks.corps import affiliation_sweep, schedule_affiliation
from tasks.keys import sweep
from tasks.services import resync

log = logging.getLogger(__name__)


@app_periodic_task(name="ops.heartbeat", schedule=crontab(minute="*"))
def beat():
    """Record every minute that a consumer is alive and taking work."""
    heartbeat.beat(get_redis())


@app_task(name="ops.reap", context=True)
def reap(task=None):
    """Put back tasks whose worker died; after a few deaths a task goes to the dead store."""
    requeued, dead = inflight.reap(get_redis(), requeue)
    if requeued or dead:
        log.warning("task %s ops.reap: requeued %s, dead %s", task.id, requeued, dead)
    return requeued, dead


def recover_lost_work(redis):
    """What the upkeep of every consumer does every few seconds besides reaping: find lost work.

    - ids a dead affiliation round was working on go back to wait, and a round is scheduled;
    - a Redis that lost its data (restarted empty, flushed) has no epoch: the first consumer to
      notice sets one and queues a sweep of due keys, an affiliation sweep and a resync at once,
      instead of waiting for their next periodic run.
    Returns (ids put back, whether Redis had lost its data).
    """
    put_back = affiliation.put_back_abandoned()
    if put_back:
        log.warning("upkeep: %s character ids of a dead affiliation round put back", put_back)
        schedule_affiliation()
    lost = bool(redis.set(redis_keys.EPOCH, f"{time.time():.3f}", nx=True))
    if lost:
        log.warning("upkeep: Redis holds no epoch (new, restarted empty or flushed): sweeping now")
        sweep(priority=PRIORITY_ON_DEMAND)
        affiliation_sweep(priority=PRIORITY_ON_DEMAND)
        resync(priority=PRIORITY_ON_DEMAND)
    return put_back, lost


@app_task(name="ops.prune", context=True)
def prune(task=None):
    """Forget task history and dead tasks older than HISTORY_DAYS, and spent OpenID Connect codes,
    tokens and keys."""
    days = current_app.config["HISTORY_DAYS"]
    cutoff = utcnow() - timedelta(days=days)
    records = db.session.execute(db.delete(TaskRecord).where(TaskRecord.finished_at < cutoff)).rowcount
    db.session.commit()
    dead = deadstore.prune(get_redis(), time.time() - days * 86400)
    codes, tokens, keys = oidc_prune()
    log.info(
        "task %s ops.prune: %s records, %s dead tasks, %s OpenID Connect codes, %s tokens, %s keys",
        task.id,
        records,
        dead,
        codes,
        tokens,
        keys,
    )
    return records, dead


@app_task(name="ops.send_alert", retries=5, retry_delay=30)
def send_alert(subject, text):
    """Deliver one alert to every channel configured; a failure is retried, then goes dead."""
    if not isinstance(subject, str) or not isinstance(text, str):
        raise ValueError("an alert is a subject and a text")
    alerts.send(subject, text)


@app_task(name="ops.alerts")
def check_alerts():
    """Tell admins what started and what ended since the last look (app/alerts.py); each message
    is delivered by its own ops.send_alert, so a slow or failing channel blocks no other work."""
    return len(alerts.evaluate(send_alert))
