"""Huey's priority queue on Redis, keeping a count of queued tasks by name and priority, and of
scheduled tasks by name.

The dashboard shows pending work by task and priority; reading every queued message for that
would take seconds with tens of thousands queued. Each queued message carries a small header
(task name and priority) ahead of Huey's data, and a hash beside the queue counts headers: the
count goes up in the same transaction as the message is added and down right after it is taken.
Should a consumer die between taking a message and counting it down, the count heals itself the
next time the queue is empty. Messages queued without a header are still read. Scheduled tasks
(retries, waits for a slot or a backoff) are counted by name the same way, so each kind of work
can be held to its own high-water mark (the sweep counts only key checks).
"""

import struct
import time

from huey.storage import PriorityRedisStorage

HEADER_MARK = b"\x01"
PREFIX_LEN = 8  # Huey's timestamp prefix, which keeps equal priorities first in, first out

TAKEN_LUA = """
local counts, queue = KEYS[1], KEYS[2]
if ARGV[1] ~= '' then
  if redis.call('HINCRBY', counts, ARGV[1], -1) <= 0 then redis.call('HDEL', counts, ARGV[1]) end
end
if redis.call('ZCARD', queue) == 0 then redis.call('DEL', counts) end
return 1
"""


def split(member):
    """A queued member -> (header or "", Huey's data); members without a header have an empty one."""
    body = member[PREFIX_LEN:]
    if body[:1] != HEADER_MARK:
        return "", body
    size = body[1]
    return body[2 : 2 + size].decode(), body[2 + size :]


SCHEDULED_LUA = """
if redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[3], 1) end
return 1
"""

UNSCHEDULED_LUA = """
local schedule, counts = KEYS[1], KEYS[2]
for i = 1, #ARGV do
  if redis.call('HINCRBY', counts, ARGV[i], -1) <= 0 then redis.call('HDEL', counts, ARGV[i]) end
end
if redis.call('ZCARD', schedule) == 0 then redis.call('DEL', counts) end
return 1
"""


class CountingPriorityStorage(PriorityRedisStorage):
    """PriorityRedisStorage plus a count of queued messages by task name and priority."""

    describe = None  # set by the Huey instance: data -> task name

    def __init__(self, name="huey", **kwargs):
        super().__init__(name, **kwargs)
        self.counts_key = f"huey.counts.{self.name}"
        self.schedule_counts_key = f"huey.schedule-counts.{self.name}"
        self._taken = self.conn.register_script(TAKEN_LUA)
        self._scheduled = self.conn.register_script(SCHEDULED_LUA)
        self._unscheduled = self.conn.register_script(UNSCHEDULED_LUA)

    def _name_of(self, data):
        try:
            return self.describe(data) if self.describe else "?"
        except Exception:  # a message that cannot be read is still kept (the consumer deals with it)
            return "?"

    def header(self, data, priority):
        """ "bastion.keys.validate|100" for a message."""
        return f"{self._name_of(data)}|{0 if priority is None else priority}"

    def enqueue(self, data, priority=None):
        header = self.header(data, priority).encode()[:255]
        prefix = struct.pack(">Q", int(time.time() * 1e6))
        member = prefix + HEADER_MARK + bytes([len(header)]) + header + data
        pipe = self.conn.pipeline(transaction=True)
        pipe.zadd(self.queue_key, {member: 0 if priority is None else -priority})
        pipe.hincrby(self.counts_key, header, 1)
        pipe.execute()

    def _take(self, member):
        header, data = split(member)
        self._taken(keys=[self.counts_key, self.queue_key], args=[header])
        return data

    def dequeue(self):
        if self.blocking:
            try:
                _, member, _ = self.conn.bzpopmin(self.queue_key, timeout=self.read_timeout)
            except (TimeoutError, TypeError, IndexError):
                return None
            return self._take(member)
        items = self.conn.zpopmin(self.queue_key, count=1)
        return self._take(items[0][0]) if items else None

    def enqueued_items(self, limit=None):
        members = self.conn.zrange(self.queue_key, 0, limit - 1 if limit else -1)
        return [split(member)[1] for member in members]

    def flush_queue(self):
        self.conn.delete(self.queue_key, self.counts_key)

    def add_to_schedule(self, data, ts):
        self._scheduled(
            keys=[self.schedule_key, self.schedule_counts_key],
            args=[self.convert_ts(ts), data, self._name_of(data)],
        )

    def read_schedule(self, ts):
        items = super().read_schedule(ts)
        if items:
            self._unscheduled(
                keys=[self.schedule_key, self.schedule_counts_key], args=[self._name_of(d) for d in items]
            )
        return items

    def flush_schedule(self):
        self.conn.delete(self.schedule_key, self.schedule_counts_key)

    def scheduled_by_task(self):
        """{task name: count} of scheduled messages."""
        return {
            name.decode(): int(count)
            for name, count in self.conn.hgetall(self.schedule_counts_key).items()
            if int(count) > 0
        }

    def waiting(self, name):
        """How many messages of one task are queued or scheduled."""
        pending = sum(count for (task, _), count in self.pending_by_task().items() if task == name)
        return pending + int(self.conn.hget(self.schedule_counts_key, name) or 0)

    def pending_by_task(self):
        """{(task name, priority): count} of queued messages."""
        rows = {}
        for header, count in self.conn.hgetall(self.counts_key).items():
            name, _, priority = header.decode().rpartition("|")
            if int(count) > 0:
                rows[(name, int(priority) if priority.lstrip("-").isdigit() else 0)] = int(count)
        return rows
