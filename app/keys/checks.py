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


def standing_settles(user):
    """(the user's keys, True while their standing is still being decided): a key waits for its
    check, or was checked after the user's grants were last worked out."""
    keys = list(user.keys)
    checking = being_checked([k.id for k in keys])
    reconciled = user.reconciled_at
    settling = bool(checking) or any(
        k.status == "pending"
        or (k.last_checked_at is not None and (reconciled is None or k.last_checked_at > reconciled))
        for k in keys
    )
    return keys, settling
