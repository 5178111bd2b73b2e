"""Per-target locks: an owner token, a TTL, extended while the task runs, released only by the owner.

redis-py's Lock does the work (SET NX PX, and Lua scripts that check the token on extend and
release). A lock lives in Redis and goes when Redis loses its data; work that must never overlap
(a key's refresh) also claims its target in the database (see app/keys/validation.py).
"""

import contextlib
import time

from redis.exceptions import LockError, LockNotOwnedError

from app.jobs import redis_keys

DEFAULT_TTL = 60
RETRY_SOON = 1.0


class TargetLock:
    """A lock on one target (a key, a user) owned by one task run."""

    def __init__(self, redis_client, name, owner, ttl=DEFAULT_TTL):
        self.name = redis_keys.lock(name)
        self.owner = owner
        self.ttl = ttl
        self._lock = redis_client.lock(self.name, timeout=ttl, blocking=False, thread_local=False)
        self._redis = redis_client

    def acquire(self):
        """Take the lock now or not at all; (True, 0) or (False, seconds before trying again)."""
        now = time.time()
        token = f"{self.owner}|{now:.3f}"
        if self._lock.acquire(token=token):
            self._redis.zadd(redis_keys.LOCK_INDEX, {self.name: now + self.ttl})
            return True, 0.0
        # The holder usually finishes long before its TTL: look again soon.
        left = self._redis.pttl(self.name)
        return False, min(RETRY_SOON, left / 1000.0) if left and left > 0 else RETRY_SOON

    def extend(self):
        """Reset the TTL (the task is still working); False when the lock was lost meanwhile."""
        try:
            self._lock.reacquire()
        except (LockError, LockNotOwnedError):
            return False
        self._redis.zadd(redis_keys.LOCK_INDEX, {self.name: time.time() + self.ttl})
        return True

    def release(self):
        """Release the lock if this run still owns it."""
        with contextlib.suppress(LockError, LockNotOwnedError):
            self._lock.release()
            self._redis.zrem(redis_keys.LOCK_INDEX, self.name)


def list_locks(redis_client, limit=500, now=None):
    """Locks held now (at most limit): name, owner, TTL left in seconds; and how many are held.

    Every lock is indexed by when it would expire, so listing them never scans the keyspace.
    """
    now = time.time() if now is None else now
    redis_client.zremrangebyscore(redis_keys.LOCK_INDEX, "-inf", now)
    held = redis_client.zcard(redis_keys.LOCK_INDEX)
    names = redis_client.zrange(redis_keys.LOCK_INDEX, 0, limit - 1)
    pipe = redis_client.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
        pipe.pttl(name)
    answers = pipe.execute()
    rows = []
    for name, value, ttl in zip(names, answers[::2], answers[1::2], strict=True):
        if value is None:
            redis_client.zrem(redis_keys.LOCK_INDEX, name)  # released without the index hearing of it
            held -= 1
            continue
        rows.append(
            {
                "name": name.removeprefix(redis_keys.lock("")),
                "owner": value.split("|", 1)[0],
                "ttl_s": round(ttl / 1000.0, 1) if ttl and ttl > 0 else None,
            }
        )
    return sorted(rows, key=lambda r: r["name"]), held
