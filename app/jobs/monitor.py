"""The queue's read side: what the dashboard, the queue page, ``/admin/queue/status``,
``/metrics``, ``/healthz`` and ``flask queue status`` show of the work, as pure read functions
shared by all of them. What the work is about (keys, users, grants: app/overview.py) is not here.

Queue figures come from counters, indexes and short lists, never from reading the whole queue:
pending work by task and priority is counted by the queue's storage (tasks/storage.py), locks
are indexed by expiry, dead tasks by when they failed. The queue itself (a Huey instance that can
describe its tasks, see tasks/__init__.py) is passed in, so nothing here imports the tasks;
likewise the function that names a task's target, so nothing here imports an area.
"""

import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, text

from app.clock import utcnow
from app.extensions import db
from app.jobs import counters, deadstore, heartbeat, inflight, redis_keys
from app.jobs.connection import get_redis
from app.jobs.locks import list_locks
from app.jobs.models import TaskRecord
from app.jobs.setup import get_governor

LOCKS_SHOWN = 100
SCHEDULED_SHOWN = 25
DEAD_PAGE = 25


def _paused(redis_client):
    raw = redis_client.get(redis_keys.PAUSED)
    if raw is None:
        return {"paused": False, "by": None, "since": None}
    who, _, since = raw.partition("|")
    return {"paused": True, "by": who, "since": float(since) if since else None}


def named(rows, names_of=None):
    """Give each row with a task "target" ("key:42") its "target_name" ("key 42, Borin Kade").

    names_of: the naming function ({(kind, id): name} for (kind, id) pairs) the caller hands in, as
    it hands in the queue: naming a target reads the areas, which this module never imports.
    Without one, a row is named by its target.
    """
    pairs = [tuple((row.get("target") or "").partition(":")[::2]) for row in rows]
    names = names_of(pairs) if names_of is not None else {}
    for row, (kind, ident) in zip(rows, pairs, strict=True):
        name = names.get((kind, ident))
        row["target_name"] = f"{kind} {ident}, {name}" if name else row.get("target") or ""
    return rows


def status(queue, names_of=None, now=None):
    """The state of the work: consumers, queue, tasks by name, upstreams, locks, throughput.

    names_of names the running tasks' targets (see named).
    """
    now = time.time() if now is None else now
    redis_client = get_redis()
    governor = get_governor()
    processes = inflight.processes(redis_client, now)
    age = heartbeat.age_seconds(redis_client, now)
    running = inflight.running(redis_client)
    by_task = {}
    for (name, priority), count in queue.storage.pending_by_task().items():
        row = by_task.setdefault(queue.short_name(name), {"pending": 0, "by_priority": {}, "scheduled": 0})
        row["pending"] += count
        row["by_priority"][str(priority)] = count
    for name, count in queue.storage.scheduled_by_task().items():
        row = by_task.setdefault(queue.short_name(name), {"pending": 0, "by_priority": {}, "scheduled": 0})
        row["scheduled"] = count
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
            "pending": queue.pending_count(),
            "scheduled": queue.scheduled_count(),
            "running": len(running),
            "dead": deadstore.count(redis_client),
        },
        "by_task": dict(sorted(by_task.items())),
        "running": named(
            [
                {
                    "task": queue.short_name(row["name"]),
                    "target": row.get("target"),
                    "worker": row.get("worker"),
                    "started_at": row["started_at"],
                    "elapsed_s": round(max(0.0, now - row["started_at"]), 1),
                }
                for row in running
            ],
            names_of,
        ),
        "upstreams": {name: governor.state(name, now) for name in governor.upstreams()},
        "locks": locks,
        "locks_held": held,
        "paused": pause["paused"],
        "paused_by": pause["by"],
        "paused_since": pause["since"],
        "throughput": counters.throughput(redis_client, 60, now),
    }


def scheduled(queue, names_of=None, limit=SCHEDULED_SHOWN):
    """The next scheduled tasks (retries, backoffs, reserved slots), soonest first."""
    return named(
        [
            {
                "task": queue.short_name(queue.task_name(task)),
                "target": queue.target_of(task),
                "eta": task.eta.timestamp() if task.eta else None,
                "priority": task.priority,
            }
            for task in queue.scheduled(limit)
        ],
        names_of,
    )


def dead_page(queue, names_of=None, page=1, per_page=DEAD_PAGE):
    """One page of dead tasks (newest first) and the number of pages."""
    redis_client = get_redis()
    total = deadstore.count(redis_client)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = deadstore.page(redis_client, (page - 1) * per_page, per_page)
    for row in rows:
        row["task"] = queue.short_name(row["name"])
    named(rows, names_of)
    return {"items": rows, "page": page, "pages": pages, "total": total}


def failures_last_day():
    """Failed attempts in the last 24 hours, from the task history."""
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


def health():
    """The state of each part (web, database, Redis, consumer) as a dict, and whether all are fine."""
    report = {"web": {"ok": True, "version": current_app.config["VERSION"]}}
    try:
        db.session.execute(text("SELECT 1"))
        report["database"] = {"ok": True}
    except Exception as exc:  # any driver error means the database is not usable
        db.session.rollback()
        report["database"] = {"ok": False, "error": type(exc).__name__}
    redis_client = get_redis()
    try:
        redis_client.ping()
        report["redis"] = {"ok": True}
    except Exception as exc:  # connection refused, timeout, auth, ...
        report["redis"] = {"ok": False, "error": type(exc).__name__}
        report["consumer"] = {"ok": False, "heartbeat_age_s": None, "error": "redis unavailable"}
    else:
        age = heartbeat.age_seconds(redis_client)
        max_age = current_app.config["HEARTBEAT_MAX_AGE"]
        report["consumer"] = {
            "ok": age is not None and age <= max_age,
            "heartbeat_age_s": None if age is None else round(age, 1),
            "max_age_s": max_age,
        }
    ok = all(part["ok"] for part in report.values())
    return report, ok
