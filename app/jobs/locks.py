"""Per-target locks: an owner token, a TTL, extended while the task runs, released only by the owner.

redis-py's Lock does the work (SET NX PX, and Lua scripts that check the token on extend and
release). A lock lives in Redis and goes when Redis loses its data; work that must never overlap
(a key's refresh) also claims its target in the database (see app/keys/validation.py).
"""

import contextlib
import time

from redis.exceptions import LockError, LockNotOwnedError

from app.jobs import keys

DEFAULT_TTL = 60
RETRY_SOON = 1.0


class TargetLock:
    """A lock on one target (a key, a user) owned by one task run."""

    def __init__(self, redis_client, name, owner, ttl=DEFAULT_TTL):
        self.name = keys.lock(name)
        self.owner = owner
        self.ttl = ttl
        self._lock = redis_client.lock(self.name, timeout=ttl, blocking=False, thread_local=False)
        self._redis = redis_client

    def acquire(self):
        """Take the lock now or not at all; (True, 0) or (False, seconds before trying again)."""
        token = f"{self.owner}|{time.time():.3f}"
        if self._lock.acquire(token=token):
            return True, 0.0
        # The holder usually finishes long before its TTL: look again soon.
        left = self._redis.pttl(self.name)
        return False, min(RETRY_SOON, left / 1000.0) if left and left > 0 else RETRY_SOON

    def extend(self):
        """Reset the TTL (the task is still working); False when the lock was lost meanwhile."""
        try:
            self._lock.reacquire()
            return True
        except (LockError, LockNotOwnedError):
            return False

    def release(self):
        """Release the lock if this run still owns it."""
        with contextlib.suppress(LockError, LockNotOwnedError):
            self._lock.release()


def list_locks(redis_client, limit=500):
    """Every lock held now: name, owner, TTL left in seconds."""
    rows = []
    for name in redis_client.scan_iter(match=keys.LOCK_PATTERN, count=500):
        value = redis_client.get(name)
        ttl = redis_client.pttl(name)
        if value is None:
            continue
        owner = value.split("|", 1)[0] if isinstance(value, str) else value
        rows.append(
            {
                "name": name.removeprefix(keys.lock("")),
                "owner": owner,
                "ttl_s": round(ttl / 1000.0, 1) if ttl and ttl > 0 else None,
            }
        )
        if len(rows) >= limit:
            break
    return sorted(rows, key=lambda r: r["name"])
