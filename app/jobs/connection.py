"""The Redis connection the app and the tasks share for coordination (not the queue itself)."""

import redis
from flask import current_app


def make_redis(url):
    """A Redis client with timeouts, so a dead server fails fast instead of hanging a request."""
    return redis.Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
        decode_responses=True,
    )


def init_app(app):
    """Attach a Redis client to the app."""
    app.extensions["redis"] = make_redis(app.config["REDIS_URL"])


def get_redis():
    """The current app's Redis client."""
    return current_app.extensions["redis"]
