"""Counters of finished work, kept in Redis by the consumers and read by the dashboard and /metrics.

- per minute: tasks done and failed (kept two hours), for the throughput sparkline;
- per task name, since Redis started: done, failed, dead, and the seconds spent, for /metrics;
- per upstream and HTTP status: calls made, for /metrics.
Failed attempts are also written to the database (TaskRecord), for the history of a dead task.
"""

import time

from app.jobs import redis_keys

THROUGHPUT_TTL = 2 * 3600
OUTCOMES = ("done", "failed", "dead")


def count_task(pipe, name, outcome, seconds=None, now=None):
    """Count one finished attempt (in the caller's pipeline)."""
    now = time.time() if now is None else now
    minute_key = redis_keys.throughput(int(now // 60))
    if outcome in ("done", "failed"):
        pipe.hincrby(minute_key, outcome, 1)
        pipe.expire(minute_key, THROUGHPUT_TTL)
    pipe.hincrby(redis_keys.TASK_STATS, f"{name}|{outcome}", 1)
    if seconds is not None:
        pipe.hincrbyfloat(redis_keys.TASK_STATS, f"{name}|seconds", round(seconds, 6))
        pipe.hincrby(redis_keys.TASK_STATS, f"{name}|timed", 1)


def call_field(upstream, status):
    """The field counting calls to an upstream by HTTP status ("timeout" when none came).

    The governor adds to it as it records each call (app/jobs/governor.py).
    """
    return f"{upstream}|{status}"


def throughput(redis_client, minutes=60, now=None):
    """Done and failed tasks per minute, oldest first, the current minute last."""
    now = time.time() if now is None else now
    current = int(now // 60)
    span = range(current - minutes + 1, current + 1)
    pipe = redis_client.pipeline(transaction=False)
    for minute in span:
        pipe.hmget(redis_keys.throughput(minute), "done", "failed")
    rows = []
    for minute, (done, failed) in zip(span, pipe.execute(), strict=True):
        rows.append({"minute": minute * 60, "done": int(done or 0), "failed": int(failed or 0)})
    return rows


def task_totals(redis_client):
    """{task name: {"done", "failed", "dead", "seconds", "timed"}} since Redis started."""
    totals = {}
    for field, value in redis_client.hgetall(redis_keys.TASK_STATS).items():
        name, _, what = field.rpartition("|")
        row = totals.setdefault(name, {"done": 0, "failed": 0, "dead": 0, "seconds": 0.0, "timed": 0})
        row[what] = float(value) if what == "seconds" else int(value)
    return totals


def upstream_calls(redis_client):
    """{(upstream, status): calls} since Redis started."""
    calls = {}
    for field, value in redis_client.hgetall(redis_keys.UPSTREAM_STATS).items():
        upstream, _, status = field.rpartition("|")
        calls[(upstream, status)] = int(value)
    return calls
