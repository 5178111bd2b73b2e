"""Which keys are being checked now (queued or running), for the pages that show it live."""

from redis.exceptions import RedisError

from app.jobs import markers
from app.jobs.connection import get_redis
from app.keys.sweep import VALIDATE


def being_checked(key_ids):
    """The keys whose validation is queued or running now."""
    if not key_ids:
        return set()
    try:
        return markers.queued_among(get_redis(), VALIDATE, key_ids)
    except RedisError:
        return set()
