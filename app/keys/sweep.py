"""The sweep: keys that are due, oldest first, only as many as the queue has room for."""

from flask import current_app
from sqlalchemy import select

from app.clock import utcnow
from app.extensions import db
from app.jobs import markers
from app.jobs.connection import get_redis
from app.jobs.pause import is_paused
from app.jobs.setup import get_governor
from app.keys.models import Key

VALIDATE = "keys.validate"
CHUNK = 500


def high_water_mark():
    """How much work may wait in the queue: a few seconds of it at the SSO's current rate."""
    config = current_app.config
    rate = get_governor().state("sso")["rate_per_s"]
    wanted = int(rate * config["SWEEP_HORIZON"])
    return max(config["SWEEP_MIN_BATCH"], min(config["SWEEP_MAX_QUEUE"], wanted))


def sweep(queue_depth, enqueue):
    """Enqueue due keys up to the high-water mark, skipping queued ones; (enqueued, more_due).

    enqueue(key_id) returns False when the key cannot be queued now (no governor slot): the sweep
    stops there and comes back.
    """
    redis = get_redis()
    if is_paused(redis):
        return 0, False
    room = high_water_mark() - queue_depth
    if room <= 0:
        return 0, True
    now = utcnow()
    enqueued = 0
    after = None
    scanned = 0
    limit = room + current_app.config["SWEEP_MAX_QUEUE"]
    while enqueued < room and scanned < limit:
        query = select(Key.id, Key.next_check_at).where(Key.next_check_at <= now)
        if after is not None:
            query = query.where(
                (Key.next_check_at > after[0]) | ((Key.next_check_at == after[0]) & (Key.id > after[1]))
            )
        rows = db.session.execute(query.order_by(Key.next_check_at, Key.id).limit(CHUNK)).all()
        db.session.commit()
        if not rows:
            return enqueued, False
        for key_id, due in rows:
            scanned += 1
            after = (due, key_id)
            if enqueued >= room:
                return enqueued, True
            if markers.claim(redis, VALIDATE, key_id):
                if not enqueue(key_id):
                    markers.clear(redis, VALIDATE, key_id)
                    return enqueued, True
                enqueued += 1
    return enqueued, True
