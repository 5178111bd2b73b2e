"""Operational tasks: the consumer heartbeat, the reaper and history pruning."""

import logging
import time
from datetime import timedelta

from flask import current_app
from huey import crontab

from app.clock import utcnow
from app.extensions import db
from app.jobs import deadstore, heartbeat, inflight
from app.jobs.connection import get_redis
from app.jobs.models import TaskRecord
from tasks import app_periodic_task, app_task, requeue

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


@app_task(name="ops.prune", context=True)
def prune(task=None):
    """Forget task history and dead tasks older than HISTORY_DAYS."""
    days = current_app.config["HISTORY_DAYS"]
    cutoff = utcnow() - timedelta(days=days)
    records = db.session.execute(db.delete(TaskRecord).where(TaskRecord.finished_at < cutoff)).rowcount
    db.session.commit()
    dead = deadstore.prune(get_redis(), time.time() - days * 86400)
    log.info("task %s ops.prune: %s records, %s dead tasks", task.id, records, dead)
    return records, dead
