"""On-demand checks from the web: queue a key's validation ahead of the sweep, see which are queued."""

import logging

from redis.exceptions import RedisError

from app.jobs import markers
from app.jobs.connection import get_redis
from app.keys.sweep import VALIDATE

log = logging.getLogger(__name__)


def queue_check(key_id):
    """Queue a key's validation at on-demand priority; False when one is already queued.

    When Redis cannot be reached the key simply waits for the sweep (it is due already).
    """
    from tasks import PRIORITY_ON_DEMAND
    from tasks.keys import enqueue_validation

    try:
        return enqueue_validation(key_id, PRIORITY_ON_DEMAND)
    except RedisError as exc:
        log.warning("could not queue a check of key %s now: %s", key_id, exc)
        return True


def being_checked(key_ids):
    """The keys whose validation is queued or running now."""
    if not key_ids:
        return set()
    try:
        return markers.queued_among(get_redis(), VALIDATE, key_ids)
    except RedisError:
        return set()
