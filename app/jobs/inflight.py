"""The in-flight registry: every running task with its worker, start and lease; and the reaper.

A consumer process keeps a liveness key while it lives. A task whose lease ran out, or whose
process is gone, was cut off (kill -9, a crashed machine): the reaper puts it back on the queue,
a few times at most, then hands it to the dead store.
"""

import json
import os
import socket
import time

from app.jobs import deadstore, redis_keys

DEFAULT_LEASE = 120
WORKER_TTL = 20
PROCESS_MEMORY = 3600  # processes that stopped beating stay listed (as gone) for an hour
MAX_REAPS = 3
REAPED = f"{redis_keys.PREFIX}:reaped"


def process_id():
    """This consumer process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat_process(redis_client, now=None):
    """Keep this process's liveness key fresh (every few seconds), and list it for the dashboard."""
    now = time.time() if now is None else now
    me = process_id()
    pipe = redis_client.pipeline(transaction=False)
    pipe.set(redis_keys.worker(me), f"{now:.0f}", ex=WORKER_TTL)
    pipe.zadd(redis_keys.WORKERS, {me: now})
    pipe.zremrangebyscore(redis_keys.WORKERS, "-inf", now - PROCESS_MEMORY)
    pipe.execute()


def processes(redis_client, now=None):
    """Consumer processes seen in the last hour: id, seconds since their last beat, alive or not."""
    now = time.time() if now is None else now
    rows = []
    for name, beat in redis_client.zrevrange(redis_keys.WORKERS, 0, 49, withscores=True):
        age = max(0.0, now - beat)
        rows.append({"id": name, "beat_age_s": round(age, 1), "alive": age <= WORKER_TTL})
    return rows


def register(
    redis_client, task_id, name, args, kwargs, priority, target, worker, lease=DEFAULT_LEASE, now=None
):
    """Record a task that has started."""
    now = time.time() if now is None else now
    entry = {
        "task_id": task_id,
        "name": name,
        "args": list(args),
        "kwargs": kwargs,
        "priority": priority,
        "target": target,
        "worker": worker,
        "started_at": now,
        "lease_until": now + lease,
    }
    redis_client.hset(redis_keys.INFLIGHT, task_id, json.dumps(entry))


def extend(redis_client, task_id, lease=DEFAULT_LEASE):
    """The task is still working: push its lease out."""
    raw = redis_client.hget(redis_keys.INFLIGHT, task_id)
    if raw:
        entry = json.loads(raw)
        entry["lease_until"] = time.time() + lease
        redis_client.hset(redis_keys.INFLIGHT, task_id, json.dumps(entry))


def finish(redis_client, task_id, identity=None):
    """The task ended (done, failed or rescheduled)."""
    redis_client.hdel(redis_keys.INFLIGHT, task_id)
    if identity:
        redis_client.hdel(REAPED, identity)


def running(redis_client):
    """Every running task, oldest first."""
    rows = [json.loads(raw) for raw in redis_client.hvals(redis_keys.INFLIGHT)]
    return sorted(rows, key=lambda r: r["started_at"])


def identity_of(name, args, kwargs):
    """What makes two runs the same piece of work."""
    return f"{name}:{json.dumps(list(args))}:{json.dumps(kwargs, sort_keys=True)}"


def _process_gone(redis_client, worker, now, started_at):
    host, _, rest = worker.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return now - started_at > WORKER_TTL and not redis_client.exists(redis_keys.worker(f"{host}:{pid}"))


def reap(redis_client, requeue, now=None):
    """Put back every task whose worker died; returns (requeued, dead) counts.

    requeue(entry) enqueues the same task again. Taking an entry is atomic (HDEL), so several
    reapers never requeue one task twice.
    """
    now = time.time() if now is None else now
    requeued = dead = 0
    for task_id, raw in redis_client.hgetall(redis_keys.INFLIGHT).items():
        entry = json.loads(raw)
        expired = entry["lease_until"] < now
        if not expired and not _process_gone(redis_client, entry["worker"], now, entry["started_at"]):
            continue
        if not redis_client.hdel(redis_keys.INFLIGHT, task_id):
            continue  # another reaper took it
        identity = identity_of(entry["name"], entry["args"], entry["kwargs"])
        count = redis_client.hincrby(REAPED, identity, 1)
        redis_client.expire(REAPED, 86400)
        if count > MAX_REAPS:
            redis_client.hdel(REAPED, identity)
            deadstore.add(
                redis_client,
                name=entry["name"],
                args=entry["args"],
                kwargs=entry["kwargs"],
                priority=entry.get("priority"),
                target=entry.get("target"),
                error=f"its worker died {MAX_REAPS + 1} times while running it",
                traceback="",
                attempts=count,
            )
            dead += 1
        else:
            requeue(entry)
            requeued += 1
    return requeued, dead
