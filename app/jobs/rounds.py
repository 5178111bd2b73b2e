"""Round trips to Redis, shared.

A key check talks to Redis at three moments that need an answer: the governor's permit with the
key's lock, the ESI gate with the character's bucket, and the lock's release (a verdict that
would remove something is observed by the incident guard before it is written, a fourth). What it
only writes (how a call went, a rotated token kept, a bucket's headers, a verdict that removes
nothing seen by the guard) needs no answer before the run goes on: inside
``shared_round_trips()`` such writes wait in this thread's pending batch and go with the next round
trip that needs an answer, in one pipeline, in the order they were made; a write that wants its
answer all the same (the guard's) has it handed to a function once it comes. Outside the block
they are sent at once.

Scripts go by their hash (EVALSHA); a Redis that lost its scripts (a restart) answers NOSCRIPT,
and that one call is sent again with its script. Every call queues exactly one command, so each
answer lines up with its call.
"""

import contextlib
import contextvars
import logging

from redis.exceptions import NoScriptError

log = logging.getLogger(__name__)

_pending = contextvars.ContextVar("bastion_pending_redis_writes", default=None)


class Batch:
    """Commands and scripts sent in one round trip (with whatever writes are pending)."""

    def __init__(self, redis):
        self.redis = redis
        self._calls = []  # (queue(pipe), script, keys, args, then)

    def __len__(self):
        return len(self._calls)

    def script(self, script, keys, args, then=None):
        """Run a redis-py Script (by its hash); returns this batch. then(answer), if given, is
        called with the script's answer once it comes (for a write queued with later())."""
        keys, args = list(keys), list(args)
        queue = lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args)  # noqa: E731
        self._calls.append((queue, script, keys, args, then))
        return self

    def command(self, name, *args, **kwargs):
        """Run one command, as redis-py names it (``hset``, ``set``...); returns this batch."""
        self._calls.append((lambda pipe: getattr(pipe, name)(*args, **kwargs), None, None, None, None))
        return self

    def send(self):
        """Send the pending writes and this batch in one round trip; this batch's answers, in order.

        An error answering one of this batch's calls is raised; one answering a pending write is
        logged (nobody waits for it)."""
        pending = _pending.get()
        ahead = pending.take() if pending is not None else []
        calls = ahead + self._calls
        self._calls = []
        if not calls:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for queue, *_ in calls:
            queue(pipe)
        answers = pipe.execute(raise_on_error=False)
        for position, ((_, script, keys, args, _then), answer) in enumerate(zip(calls, answers, strict=True)):
            if isinstance(answer, NoScriptError) and script is not None:
                answer = answers[position] = script(keys=keys, args=args, client=self.redis)  # sends it whole
            if isinstance(answer, Exception):
                if position >= len(ahead):
                    raise answer
                log.warning("a pending Redis write failed: %s", answer)
        for position, ((*_, then), answer) in enumerate(zip(calls, answers, strict=True)):
            if then is None or isinstance(answer, Exception):
                continue
            if position >= len(ahead):
                then(answer)
                continue
            try:  # a pending write's follow-up must not break the round trip that carried it
                then(answer)
            except Exception:
                log.exception("following up a pending Redis write failed")
        return answers[len(ahead) :]

    def take(self):
        """Hand over the calls queued so far (for another batch to send)."""
        calls, self._calls = self._calls, []
        return calls


def later(redis, build):
    """A write that needs no answer: build(batch) queues it. Inside shared_round_trips() it goes
    with the next round trip; outside, now."""
    pending = _pending.get()
    if pending is not None and pending.redis is redis:
        build(pending)
        return
    batch = Batch(redis)
    build(batch)
    batch.send()


@contextlib.contextmanager
def shared_round_trips(redis):
    """Within the block, writes made with later() wait for the next round trip that needs an
    answer; what is still pending when the block ends is sent then (also when it fails)."""
    if _pending.get() is not None:  # nested: the outer block sends
        yield
        return
    pending = Batch(redis)
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if len(pending):
            try:
                pending.send()
            except Exception as exc:  # noqa: BLE001  (the block's own outcome matters more)
                log.warning("pending Redis writes not sent: %s", exc)
