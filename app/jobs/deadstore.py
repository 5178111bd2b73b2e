"""The dead store: tasks that failed for good, kept with everything needed to run them again exactly."""

import json
import time
import uuid

from app.jobs import redis_keys

MAX_TRACEBACK = 20_000


def add(
    redis_client,
    name,
    args,
    kwargs,
    priority,
    target,
    error,
    traceback,
    attempts,
    task_id=None,
    now=None,
    raw=None,
):
    """Keep a failed task; returns its dead-store id.

    raw: a message that never became a task (base64 of what was queued), kept to be read and
    discarded; such an entry cannot be retried.
    """
    now = time.time() if now is None else now
    dead_id = uuid.uuid4().hex
    entry = {
        "id": dead_id,
        "task_id": task_id,
        "name": name,
        "args": list(args),
        "kwargs": kwargs or {},
        "priority": priority,
        "target": target,
        "error": error[:2000],
        "traceback": (traceback or "")[-MAX_TRACEBACK:],
        "attempts": attempts,
        "failed_at": now,
        "raw": raw,
    }
    pipe = redis_client.pipeline()
    pipe.hset(redis_keys.DEAD, dead_id, json.dumps(entry, default=repr))
    pipe.zadd(redis_keys.DEAD_INDEX, {dead_id: now})
    pipe.execute()
    return dead_id


def count(redis_client):
    """How many tasks are dead."""
    return redis_client.zcard(redis_keys.DEAD_INDEX)


def page(redis_client, offset=0, limit=50):
    """Dead tasks, newest first."""
    ids = redis_client.zrevrange(redis_keys.DEAD_INDEX, offset, offset + limit - 1)
    if not ids:
        return []
    return [json.loads(raw) for raw in redis_client.hmget(redis_keys.DEAD, ids) if raw]


def get(redis_client, dead_id):
    """One dead task, or None."""
    raw = redis_client.hget(redis_keys.DEAD, dead_id)
    return json.loads(raw) if raw else None


def take(redis_client, dead_id):
    """Remove a dead task and return it (None when another click took it first)."""
    raw = redis_client.hget(redis_keys.DEAD, dead_id)
    if raw is None or not redis_client.zrem(redis_keys.DEAD_INDEX, dead_id):
        return None
    redis_client.hdel(redis_keys.DEAD, dead_id)
    return json.loads(raw)


def runnable(entry):
    """False for a message that never became a task: it can only be read and discarded."""
    return entry.get("raw") is None


def retry(redis_client, dead_id, requeue):
    """Run a dead task again with the same name and arguments; False when it is gone or cannot run."""
    entry = get(redis_client, dead_id)
    if entry is None or not runnable(entry):
        return False
    entry = take(redis_client, dead_id)
    if entry is None:
        return False
    requeue(entry)
    return True


def retry_all(redis_client, requeue):
    """Run every dead task that can run again; returns how many."""
    done = 0
    for dead_id in redis_client.zrange(redis_keys.DEAD_INDEX, 0, -1):
        done += retry(redis_client, dead_id, requeue)
    return done


def discard(redis_client, dead_id):
    """Forget a dead task."""
    return take(redis_client, dead_id) is not None


def prune(redis_client, older_than):
    """Forget dead tasks that failed before a time; returns how many."""
    ids = redis_client.zrangebyscore(redis_keys.DEAD_INDEX, "-inf", older_than)
    if ids:
        redis_client.hdel(redis_keys.DEAD, *ids)
        redis_client.zrem(redis_keys.DEAD_INDEX, *ids)
    return len(ids)
