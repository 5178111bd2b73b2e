"""What the queue page and ``/admin/queue/status`` show, read from Redis only.

Every figure comes from a counter, an index or a short list, never from reading the whole queue:
pending work by task and priority is counted by the queue's storage (tasks/storage.py), locks
are indexed by expiry, dead tasks by when they failed.
"""

import time

from app.jobs import deadstore, heartbeat, inflight, keys, stats
from app.jobs.connection import get_redis
from app.jobs.locks import list_locks
from app.jobs.setup import get_governor
from tasks import PRIORITY_DEFAULT, PRIORITY_ON_DEMAND, PRIORITY_SWEEP, TASK_NAMESPACE, huey, target_of
from tasks import periodic as _every_task  # noqa: F401  (registers every task, to read queued ones)

PRIORITY_NAMES = {PRIORITY_ON_DEMAND: "on demand", PRIORITY_DEFAULT: "default", PRIORITY_SWEEP: "sweep"}
LOCKS_SHOWN = 100
SCHEDULED_SHOWN = 25
DEAD_PAGE = 25


def short(name):
    """ "bastion.keys.validate" -> "keys.validate"."""
    return name.removeprefix(f"{TASK_NAMESPACE}.")


def _paused(redis_client):
    raw = redis_client.get(keys.PAUSED)
    if raw is None:
        return {"paused": False, "by": None, "since": None}
    who, _, since = raw.partition("|")
    return {"paused": True, "by": who, "since": float(since) if since else None}


def status(now=None):
    """The state of the work: consumers, queue, tasks by name, upstreams, locks, throughput."""
    now = time.time() if now is None else now
    redis_client = get_redis()
    governor = get_governor()
    processes = inflight.processes(redis_client, now)
    age = heartbeat.age_seconds(redis_client, now)
    running = inflight.running(redis_client)
    by_task = {}
    for (name, priority), count in huey.storage.pending_by_task().items():
        row = by_task.setdefault(short(name), {"pending": 0, "by_priority": {}})
        row["pending"] += count
        row["by_priority"][str(priority)] = count
    locks, held = list_locks(redis_client, limit=LOCKS_SHOWN, now=now)
    pause = _paused(redis_client)
    return {
        "generated_at": round(now, 3),
        "consumer": {
            "alive": any(p["alive"] for p in processes),
            "heartbeat_age_s": None if age is None else round(age, 1),
            "processes": processes,
        },
        "queue": {
            "pending": huey.pending_count(),
            "scheduled": huey.scheduled_count(),
            "running": len(running),
            "dead": deadstore.count(redis_client),
        },
        "by_task": dict(sorted(by_task.items())),
        "running": [
            {
                "task": short(row["name"]),
                "target": row.get("target"),
                "worker": row.get("worker"),
                "started_at": row["started_at"],
                "elapsed_s": round(max(0.0, now - row["started_at"]), 1),
            }
            for row in running
        ],
        "upstreams": {name: governor.state(name, now) for name in governor.upstreams()},
        "locks": locks,
        "locks_held": held,
        "paused": pause["paused"],
        "paused_by": pause["by"],
        "paused_since": pause["since"],
        "throughput": stats.throughput(redis_client, 60, now),
    }


def scheduled(limit=SCHEDULED_SHOWN):
    """The next scheduled tasks (retries, backoffs, reserved slots), soonest first."""
    rows = []
    for task in huey.scheduled(limit):
        rows.append(
            {
                "task": short(huey._registry.task_to_string(type(task))),
                "target": target_of(task),
                "eta": task.eta.timestamp() if task.eta else None,
                "priority": task.priority,
            }
        )
    return rows


def dead_page(page=1, per_page=DEAD_PAGE):
    """One page of dead tasks (newest first) and the number of pages."""
    redis_client = get_redis()
    total = deadstore.count(redis_client)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = deadstore.page(redis_client, (page - 1) * per_page, per_page)
    for row in rows:
        row["task"] = short(row["name"])
    return {"items": rows, "page": page, "pages": pages, "total": total}


def failures_last_day():
    """Failed attempts in the last 24 hours, from the task history."""
    from datetime import timedelta

    from sqlalchemy import func

    from app.extensions import db
    from app.jobs.models import TaskRecord
    from app.models import utcnow

    since = utcnow() - timedelta(hours=24)
    query = db.select(func.count()).where(
        TaskRecord.finished_at >= since, TaskRecord.outcome.in_(("failed", "dead"))
    )
    return db.session.execute(query).scalar_one()


def sparkline(throughput, width=600, height=60):
    """SVG polyline points for done and failed per minute, scaled to the busiest minute."""
    peak = max([1] + [row["done"] + row["failed"] for row in throughput])
    step = width / max(1, len(throughput) - 1)

    def points(values):
        scale = (height - 4) / peak
        return " ".join(f"{i * step:.1f},{height - 2 - value * scale:.1f}" for i, value in enumerate(values))

    done = [row["done"] for row in throughput]
    failed = [row["failed"] for row in throughput]
    return {
        "width": width,
        "height": height,
        "done": points(done),
        "failed": points(failed),
        "peak": peak,
        "last_done": done[-1] if done else 0,
        "total_done": sum(done),
        "total_failed": sum(failed),
    }
