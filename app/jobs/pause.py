"""The pause switch: stops all upstream traffic and all sweeps at once; queued work waits."""

import time

from app.jobs import redis_keys


def pause(redis_client, who="admin"):
    """Stop upstream calls and sweeps."""
    redis_client.set(redis_keys.PAUSED, f"{who}|{time.time():.0f}")


def resume(redis_client):
    """Let work flow again."""
    redis_client.delete(redis_keys.PAUSED)


def is_paused(redis_client):
    """True while paused."""
    return bool(redis_client.exists(redis_keys.PAUSED))
