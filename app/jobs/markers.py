"""Enqueue markers: a target that is already queued for a task is never queued twice.

A marker lives a short while and is renewed by the task each time it reschedules itself, so a
task lost with a dead worker or a flushed Redis frees its target for the next sweep soon.
"""

from app.jobs import redis_keys

DEFAULT_TTL = 120


def claim(redis_client, task_name, target, ttl=DEFAULT_TTL):
    """Mark a target as queued; False when it already was (then do not enqueue it again)."""
    return bool(redis_client.set(redis_keys.marker(task_name, target), "1", nx=True, ex=ttl))


def renew(redis_client, task_name, target, ttl=DEFAULT_TTL):
    """The task is still on its way (it rescheduled itself): keep the target marked."""
    redis_client.set(redis_keys.marker(task_name, target), "1", ex=ttl)


def clear(redis_client, task_name, target):
    """The task for this target is done (or gave up): it may be queued again."""
    redis_client.delete(redis_keys.marker(task_name, target))


def is_queued(redis_client, task_name, target):
    """True while a target is marked as queued."""
    return bool(redis_client.exists(redis_keys.marker(task_name, target)))


def queued_among(redis_client, task_name, targets):
    """The targets (of a few) that are marked as queued, asked in one round trip."""
    pipe = redis_client.pipeline(transaction=False)
    for target in targets:
        pipe.exists(redis_keys.marker(task_name, target))
    return {target for target, queued in zip(targets, pipe.execute(), strict=True) if queued}
