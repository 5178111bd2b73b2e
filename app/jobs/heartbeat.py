"""Consumer heartbeat: written by a periodic task, read by /healthz and the dashboard."""

import os
import socket
import time

HEARTBEAT_KEY = "bastion:consumer:heartbeat"
HEARTBEAT_TTL = 24 * 3600


def beat(redis_client, now=None):
    """Record that a consumer is alive and processing tasks."""
    now = time.time() if now is None else now
    worker = f"{socket.gethostname()}:{os.getpid()}"
    redis_client.hset(HEARTBEAT_KEY, mapping={"at": f"{now:.3f}", "worker": worker})
    redis_client.expire(HEARTBEAT_KEY, HEARTBEAT_TTL)


def age_seconds(redis_client, now=None):
    """Seconds since the last heartbeat, or None when no consumer ever beat."""
    value = redis_client.hget(HEARTBEAT_KEY, "at")
    if value is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, now - float(value))
