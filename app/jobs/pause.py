"""The pause switch: stops all upstream traffic and all sweeps at once; queued work waits."""

import time

from app.jobs import keys


def pause(redis_client, who="admin"):
    """Stop upstream calls and sweeps."""
    redis_client.set(keys.PAUSED, f"{who}|{time.time():.0f}")


def resume(redis_client):
    """Let work flow again."""
    redis_client.delete(keys.PAUSED)


def is_paused(redis_client):
    """True while paused."""
    return bool(redis_client.exists(keys.PAUSED))
