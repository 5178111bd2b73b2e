"""Per-target locks: an owner token, a TTL, extended while the task runs, released only by the owner.

redis-py's Lock does the work (Lua scripts that check the token on extend and release). A lock
lives in Redis and goes when Redis loses its data; work that must never overlap (a key's refresh)
also claims its target in the database (see app/keys/validation.py).
"""

import contextlib
import time

from redis.exceptions import LockError, LockNotOwnedError
from redis.lock import Lock

from app.jobs import redis_keys
from app.jobs.rounds import Batch

DEFAULT_TTL = 60
RETRY_SOON = 1.0


# The start of redis-py's release and reacquire scripts: nothing happens unless ARGV[1] holds the lock.
_OWNED = """
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
"""


class IndexedLock(Lock):
    """redis-py's Lock that keeps the lock index (locks by when they would expire, which the
    dashboard lists) in the same script as each acquire, extend and release: one round trip each.

    KEYS: the lock, the index. The scripts are redis-py's own with the index's line added.
    """

    lua_acquire = None
    lua_release = None
    lua_extend = None
    lua_reacquire = None

    # ARGV: token, milliseconds, expiry (epoch seconds, the index's score)
    LUA_ACQUIRE_SCRIPT = """
        if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
            redis.call('zadd', KEYS[2], ARGV[3], KEYS[1])
            return 1
        end
        return 0
    """
    # ARGV: token
    LUA_RELEASE_SCRIPT = (
        _OWNED
        + """
        redis.call('del', KEYS[1])
        redis.call('zrem', KEYS[2], KEYS[1])
        return 1
    """
    )
    # ARGV: token, milliseconds, expiry
    LUA_REACQUIRE_SCRIPT = (
        _OWNED
        + """
        redis.call('pexpire', KEYS[1], ARGV[2])
        redis.call('zadd', KEYS[2], ARGV[3], KEYS[1])
        return 1
    """
    )

    def register_scripts(self):
        super().register_scripts()
        if IndexedLock.lua_acquire is None:
            IndexedLock.lua_acquire = self.redis.register_script(self.LUA_ACQUIRE_SCRIPT)

    def _keys(self):
        return [self.name, redis_keys.LOCK_INDEX]

    def do_acquire(self, token):
        batch = Batch(self.redis)
        self.acquire_into(batch, token)
        return bool(batch.send()[0])

    def acquire_into(self, batch, token):
        """Queue an acquire with this token into a round trip; pass its answer to acquired()."""
        token = self.redis.get_encoder().encode(token)
        args = [token, int(self.timeout * 1000), time.time() + self.timeout]
        batch.script(self.lua_acquire, self._keys(), args)
        return token

    def acquired(self, token, answer):
        """Whether the acquire queued with acquire_into() took the lock (then this run owns it)."""
        if answer:
            self.local.token = token
        return bool(answer)

    def do_release(self, expected_token):
        # Sent as a round trip of its own, with whatever writes are pending (app/jobs/rounds.py).
        answer = Batch(self.redis).script(self.lua_release, self._keys(), [expected_token]).send()[0]
        if not answer:
            raise LockNotOwnedError("Cannot release a lock that's no longer owned", lock_name=self.name)

    def do_reacquire(self):
        args = [self.local.token, int(self.timeout * 1000), time.time() + self.timeout]
        if not self.lua_reacquire(keys=self._keys(), args=args, client=self.redis):
            raise LockNotOwnedError("Cannot reacquire a lock that's no longer owned", lock_name=self.name)
        return True


class TargetLock:
    """A lock on one target (a key, a user) owned by one task run."""

    def __init__(self, redis_client, name, owner, ttl=DEFAULT_TTL):
        self.name = redis_keys.lock(name)
        self.owner = owner
        self.ttl = ttl
        self._lock = IndexedLock(redis_client, self.name, timeout=ttl, blocking=False, thread_local=False)
        self._redis = redis_client

    def acquire(self):
        """Take the lock now or not at all; (True, 0) or (False, seconds before trying again)."""
        batch = Batch(self._redis)
        token = self.acquire_into(batch)
        return self.acquired(token, batch.send()[0])

    def acquire_into(self, batch):
        """Queue taking the lock into a round trip that also carries other calls; pass what it
        returns, and the answer, to acquired()."""
        return self._lock.acquire_into(batch, f"{self.owner}|{time.time():.3f}")

    def acquired(self, token, answer):
        """(True, 0) when the lock was taken, or (False, seconds before trying again)."""
        if self._lock.acquired(token, answer):
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
        return True

    def release(self):
        """Release the lock if this run still owns it."""
        with contextlib.suppress(LockError, LockNotOwnedError):
            self._lock.release()


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
